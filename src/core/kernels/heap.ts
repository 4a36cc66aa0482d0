/**
 * Reaching into the wasm backend's heap: the backend internals our in-place kernels use, direct calls of its exported
 * C functions, and "views" — extra tensor ids registered over part of another tensor's memory, so that a wasm kernel
 * reads or writes that part in place. A view owns no memory: unregister it (dropView) when done, never free it.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** The parts of the tfjs 4.x wasm backend these kernels use. */
export interface WasmInternals {
  wasm: {
    cwrap(name: string, ret: null, args: string[]): (...a: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, memoryOffset: number): void; disposeData(id: number): void };
  };
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object): boolean;
}

export const internals = (backend: unknown) => backend as WasmInternals;

/** wasm BatchMatMul(aId, aShape, aRank, bId, bShape, bRank, transposeA, transposeB, outId): XNNPACK's GEMM for batch 1 without transposes. */
export type WasmMatMul = (aId: number, aShape: Uint8Array, aRank: number, bId: number, bShape: Uint8Array, bRank: number, ta: boolean, tb: boolean, outId: number) => void;

const matMuls = new WeakMap<object, WasmMatMul>();

/** The backend module's BatchMatMul entry point, bound once per module. */
export function wasmMatMul(b: WasmInternals): WasmMatMul {
  let f = matMuls.get(b.wasm);
  if (!f) {
    f = b.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']) as WasmMatMul;
    matMuls.set(b.wasm, f);
  }
  return f;
}

/** Int32 shape as the bytes the C functions take. */
export const shapeBytes = (shape: number[]) => new Uint8Array(new Int32Array(shape).buffer);

/** The wasm-side id and heap byte offset of a tensor. */
export function heapOf(b: WasmInternals, info: tf.TensorInfo): { id: number; offset: number } {
  const d = b.dataIdMap.get(info.dataId);
  return { id: d.id, offset: d.memoryOffset };
}

/** Register `size` float32s at byte `offset` under a new id (for direct C calls); unregister it with dropView. */
export function makeView(b: WasmInternals, offset: number, size: number): number {
  const id = b.dataIdNextNumber++;
  b.wasm.tfjs.registerTensor(id, size, offset);
  return id;
}

/** Unregister a view (this also drops whatever the backend cached for its id); its memory stays with its owner. */
export function dropView(b: WasmInternals, id: number): void {
  b.wasm.tfjs.disposeData(id);
}
