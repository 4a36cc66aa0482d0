/** Small functional layers for the ε-network: parameters live in a ParamStore, layers are pure functions. */
export * from './params';
export * from './activation';
export * from './reduce';
export * from './dense';
export * from './conv';
export * from './groupNorm';
export * from './resample';
export * from './timeEmbedding';
export * from './attention';
export * from './layerNorm';
export * from './multiHeadAttention';
export * from './mlp';
export * from './transformer';
