/**
 * Conv2D gradients for the wasm backend, built from wasm's own Conv2D, Transpose and Reverse kernels.
 *
 * | kernel                 | computes                                                        | as                                                    |
 * |------------------------|-----------------------------------------------------------------|-------------------------------------------------------|
 * | `Conv2DBackpropFilter` | ∂L/∂W[kh,kw,ci,co] = Σ_{n,y,x} X[n, y+kh−pT, x+kw−pL, ci] dY[n,y,x,co] | one GEMM per tap on a padded, flattened grid (big images), or conv2d(Xᵀ [ci,H,W,n], dYᵀ [oh,ow,n,co]) (filterGradMethod) |
 * | `Conv2DBackpropInput`  | ∂L/∂X = dY correlated with W rotated 180°, in/out channels swapped | conv2d(dY, flip(W)ᵀ), padding K−1−p                 |
 *
 * The filter gradient is either KH·KW XNNPACK GEMMs whose operands are views into the wasm heap (no im2col, no copies
 * per tap) or one convolution that treats one operand's channels as the batch and the batch as the channels; a 1×1
 * filter gradient is a single (XNNPACK) matMul.
 * Only stride 1, dilation 1, NHWC is supported — what the U-Net (3×3 and 1×1 'same' convs, avgPool
 * downsampling) uses; anything else throws.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dropView, heapOf, internals, makeView, shapeBytes, wasmMatMul } from './heap';

type TensorInfo = tf.TensorInfo;
type Backend = tf.KernelBackend;
type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

const BACKEND = 'wasm';

/** Run another registered wasm kernel directly; the result's data is new and must be disposed by the caller. */
function call(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap, backend: Backend): TensorInfo {
  const kernel = tf.getKernel(kernelName, BACKEND);
  if (kernel == null) throw new Error(`wasm kernel '${kernelName}' is not registered`);
  return kernel.kernelFunc({ inputs, attrs, backend }) as TensorInfo;
}

/** Free intermediates made by `call`. */
function free(backend: Backend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

function asPair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/** Throw unless this is a stride-1, NHWC convolution (the only kind these kernels implement). */
function checkSupported(kernelName: string, strides: number | [number, number], dataFormat: string | undefined): void {
  const [sh, sw] = asPair(strides);
  if (sh !== 1 || sw !== 1) {
    throw new Error(`${kernelName} (wasm, custom): only stride 1 is supported, got strides [${sh}, ${sw}]; downsample with avgPool instead`);
  }
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`${kernelName} (wasm, custom): only NHWC is supported, got ${dataFormat}`);
  }
}

/** Conv2D on wasm with an explicit padding: x NHWC, filter [KH, KW, in, out]. */
function conv(backend: Backend, x: TensorInfo, filter: TensorInfo, top: number, bottom: number, left: number, right: number): TensorInfo {
  const pad: tf.backend_util.ExplicitPadding = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  return call('Conv2D', { x, filter }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] } as unknown as tf.NamedAttrMap, backend);
}

/** A view of the same data with another shape (no copy, no reference count change: never dispose it). */
function view(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** 1×1 filter gradient as one matrix product, transposing the operand with fewer channels. */
function filterGrad1x1(backend: Backend, x: TensorInfo, dy: TensorInfo, ci: number, co: number): TensorInfo {
  const m = x.shape[0] * x.shape[1] * x.shape[2];
  const noTranspose = { transposeA: false, transposeB: false };
  if (ci <= co) {
    const xT = call('Transpose', { x: view(x, [m, ci]) }, { perm: [1, 0] }, backend); // [ci, M]
    const dW = call('BatchMatMul', { a: xT, b: view(dy, [m, co]) }, noTranspose, backend); // [ci, co]
    free(backend, xT);
    return view(dW, [1, 1, ci, co]);
  }
  const dyT = call('Transpose', { x: view(dy, [m, co]) }, { perm: [1, 0] }, backend); // [co, M]
  const dWT = call('BatchMatMul', { a: dyT, b: view(x, [m, ci]) }, noTranspose, backend); // [co, ci]
  free(backend, dyT);
  const dW = call('Transpose', { x: view(dWT, [co, ci]) }, { perm: [1, 0] }, backend);
  free(backend, dWT);
  return view(dW, [1, 1, ci, co]);
}


/**
 * ∂L/∂W for a K×K, stride-1 conv as KH·KW GEMMs on one "padded flat" grid, without im2col. x is padded as the
 * convolution pads it and dy is placed at the same grid's top-left (zeros to its right and below), both flattened to
 * P = n·Hp·Wp rows (Hp = H + pT + pB, Wp = W + pL + pR). x[n, y+kh−pT, x+kw−pL] is then grid row q + kh·Wp + kw for
 * dy's row q, so with Xᵀ = x's grid transposed to [ci, P]:
 *   dW[kh, kw] = Xᵀ[:, off : off + P] · dy_grid,   off = kh·Wp + kw.
 * Each tap's left operand is a view into the wasm heap at an offset, whose rows run off elements into the next row:
 * those meet dy_grid's last `off` rows, which are padding (zero), so they add nothing; an extra zero channel after x's
 * last one keeps the last row's overrun inside the buffer. dy_grid is the same right operand for every tap, so XNNPACK
 * packs it once; each tap writes straight into its slice of the output.
 */
function filterGradGemm(backend: Backend, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const b = internals(backend);
  const { top, bottom, left, right } = info.padInfo;
  const { filterHeight: KH, filterWidth: KW, inChannels: ci, outChannels: co, batchSize: n, outHeight: oh, outWidth: ow } = info;
  const Hp = info.inHeight + top + bottom;
  const Wp = info.inWidth + left + right;
  const P = n * Hp * Wp;
  const pad = (t: TensorInfo, p: [number, number][]) => call('PadV2', { x: t }, { paddings: p, constantValue: 0 } as unknown as tf.NamedAttrMap, backend);
  const xp = pad(x, [[0, 0], [top, bottom], [left, right], [0, 1]]); // [n, Hp, Wp, ci + 1], the last channel zero
  const xT = call('Transpose', { x: view(xp, [P, ci + 1]) }, { perm: [1, 0] }, backend); // [ci + 1, P]
  free(backend, xp);
  const dyp = pad(dy, [[0, 0], [0, Hp - oh], [0, Wp - ow], [0, 0]]); // [P, co] on the same grid
  const out = b.makeOutput([KH, KW, ci, co], 'float32');
  const mm = wasmMatMul(b);
  const dyId = heapOf(b, dyp).id;
  const aShape = shapeBytes([1, ci, P]);
  const bShape = shapeBytes([1, P, co]);
  const xBase = heapOf(b, xT).offset;
  const outBase = heapOf(b, out).offset;
  const views: number[] = [];
  try {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const aId = makeView(b, xBase + (kh * Wp + kw) * 4, ci * P);
        views.push(aId);
        const oId = makeView(b, outBase + (kh * KW + kw) * ci * co * 4, ci * co);
        views.push(oId);
        mm(aId, aShape, 3, dyId, bShape, 3, false, false, oId);
      }
    }
  } finally {
    // Unregister the views; their memory belongs to xT and out.
    for (const id of views) dropView(b, id);
    free(backend, xT, dyp);
  }
  return out;
}

/**
 * ∂L/∂W as one convolution whose batch is one operand's channels and whose filter is the other operand (the one with
 * fewer channels takes the expensive, fully scattering transpose; with dy as the input the result comes out flipped).
 */
function filterGradConv(backend: Backend, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { top, bottom, left, right } = info.padInfo;
  const { filterHeight: KH, filterWidth: KW, inChannels: ci, outChannels: co } = info;
  let dW: TensorInfo;
  if (ci <= co) {
    // dW[kh,kw,ci,co] = Σ_{n,y,x} xᵀ[ci, y+kh−pT, x+kw−pL, n] · dyᵀ[y, x, n, co]
    const xT = call('Transpose', { x }, { perm: [3, 1, 2, 0] }, backend); // [ci, H, W, n]
    const dyT = call('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }, backend); // [oh, ow, n, co]
    const g = conv(backend, xT, dyT, top, bottom, left, right); // [ci, KH, KW, co]
    free(backend, xT, dyT);
    dW = call('Transpose', { x: g }, { perm: [1, 2, 0, 3] }, backend);
    free(backend, g);
  } else {
    // g[co, KH−1−kh, KW−1−kw, ci] = Σ dyᵀ[co, y, x, n] · xᵀ[y + kh − pT, x + kw − pL, n, ci], padding K−1−p
    const dyT = call('Transpose', { x: dy }, { perm: [3, 1, 2, 0] }, backend); // [co, oh, ow, n]
    const xT = call('Transpose', { x }, { perm: [1, 2, 0, 3] }, backend); // [H, W, n, ci]
    const g = conv(backend, dyT, xT, KH - 1 - top, KH - 1 - bottom, KW - 1 - left, KW - 1 - right); // [co, KH, KW, ci]
    free(backend, dyT, xT);
    const flipped = call('Reverse', { x: g }, { dims: [1, 2] }, backend);
    free(backend, g);
    dW = call('Transpose', { x: flipped }, { perm: [1, 2, 3, 0] }, backend);
    free(backend, flipped);
  }
  return dW;
}

/**
 * Which filter gradient to use. XNNPACK's GEMM runs these long, thin products well only when each tap's product is
 * long (a big image) and the output has enough channels; otherwise the one-convolution form is faster (measured on
 * the U-Net's layers: 28×28 with 16 or 48 → 16 channels favour the GEMMs by 10–30 %, 14×14 and 7×7 layers and the
 * 16 → 1 output layer the convolution).
 */
export function filterGradMethod(info: Pick<tf.backend_util.Conv2DInfo, 'inHeight' | 'inWidth' | 'outChannels' | 'padInfo'>): 'gemm' | 'conv' {
  const { top, bottom, left, right } = info.padInfo;
  return info.outChannels >= 8 && (info.inHeight + top + bottom) * (info.inWidth + left + right) >= 600 ? 'gemm' : 'conv';
}

/**
 * ∂L/∂W for y = conv2d(x, W) with stride 1. 1×1: a matMul; larger filters: one GEMM per filter tap (filterGradGemm) or
 * one convolution (filterGradConv), whichever filterGradMethod picks for the shape.
 */
export const conv2DBackpropFilter: tf.KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = anyBackend as Backend;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: number | [number, number];
    pad: Pad;
    dataFormat?: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  checkSupported('Conv2DBackpropFilter', strides, dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { top, bottom, left, right } = info.padInfo;
  const [KH, KW, ci, co] = filterShape;
  if (KH === 1 && KW === 1 && top + bottom + left + right === 0) return filterGrad1x1(backend, x, dy, ci, co);
  if (dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth || dy.shape[3] !== co) {
    throw new Error(`Conv2DBackpropFilter (wasm, custom): dy is [${dy.shape}], expected [${x.shape[0]}, ${info.outHeight}, ${info.outWidth}, ${co}]`);
  }
  const dW = filterGradMethod(info) === 'gemm' ? filterGradGemm(backend, x, dy, info) : filterGradConv(backend, x, dy, info);
  if (dW.shape.some((d, i) => d !== filterShape[i])) {
    free(backend, dW);
    throw new Error(`Conv2DBackpropFilter (wasm, custom): got [${dW.shape}] for filter [${filterShape}]`);
  }
  return dW;
};

/** ∂L/∂x for y = conv2d(x, W) with stride 1, via conv2d of dy with the flipped, transposed filter. */
export const conv2DBackpropInput: tf.KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = anyBackend as Backend;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as {
    strides: number | [number, number];
    pad: Pad;
    dataFormat?: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    inputShape: [number, number, number, number];
  };
  checkSupported('Conv2DBackpropInput', strides, dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { top, bottom, left, right } = info.padInfo;
  const KH = info.filterHeight;
  const KW = info.filterWidth;
  if (top > KH - 1 || bottom > KH - 1 || left > KW - 1 || right > KW - 1) {
    throw new Error(`Conv2DBackpropInput (wasm, custom): padding [${top}, ${bottom}, ${left}, ${right}] exceeds filter ${KH}×${KW} − 1`);
  }
  const flipped = call('Reverse', { x: filter }, { dims: [0, 1] }, backend);
  const wT = call('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }, backend); // [KH, KW, co, ci]
  free(backend, flipped);
  const dx = conv(backend, dy, wT, KH - 1 - top, KH - 1 - bottom, KW - 1 - left, KW - 1 - right);
  free(backend, wT);
  if (dx.shape.some((d, i) => d !== inputShape[i])) {
    free(backend, dx);
    throw new Error(`Conv2DBackpropInput (wasm, custom): got [${dx.shape}] for input [${inputShape}]`);
  }
  return dx;
};

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: BACKEND,
  kernelFunc: conv2DBackpropFilter,
};

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: BACKEND,
  kernelFunc: conv2DBackpropInput,
};
