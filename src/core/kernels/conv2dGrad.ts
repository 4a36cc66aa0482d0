/**
 * Conv2D gradients for the wasm backend, built from wasm's own Conv2D, Transpose and Reverse kernels.
 *
 * | kernel                 | computes                                                      | as                                           |
 * |------------------------|---------------------------------------------------------------|----------------------------------------------|
 * | `Conv2DBackpropFilter` | ∂L/∂W[kh,kw,ci,co] = Σ_{n,y,x} X[n, y+kh−pT, x+kw−pL, ci] dY[n,y,x,co] | conv2d(Xᵀ [ci,H,W,n], dYᵀ [oh,ow,n,co]) |
 * | `Conv2DBackpropInput`  | ∂L/∂X = dY ⋆ W rotated 180° with in/out channels swapped         | conv2d(dY, flip(W)ᵀ), padding K−1−p         |
 *
 * The filter gradient treats the input channels as the batch and the batch as the channels, so the one
 * fast (XNNPACK) convolution does all the work. Only stride 1, dilation 1, NHWC is supported — what the
 * U-Net (3×3 and 1×1 'same' convs, avgPool downsampling) uses; anything else throws.
 */
import * as tf from '@tensorflow/tfjs-core';

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

/** ∂L/∂W for y = conv2d(x, W) with stride 1, via conv2d of transposed x and dy. */
export const conv2DBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
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
  const xT = call('Transpose', { x }, { perm: [3, 1, 2, 0] }, backend); // [ci, H, W, n]
  const dyT = call('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }, backend); // [oh, ow, n, co]
  const g = conv(backend, xT, dyT, top, bottom, left, right); // [ci, KH, KW, co]
  free(backend, xT, dyT);
  const [KH, KW, ci, co] = filterShape;
  if (g.shape[0] !== ci || g.shape[1] !== KH || g.shape[2] !== KW || g.shape[3] !== co) {
    free(backend, g);
    throw new Error(`Conv2DBackpropFilter (wasm, custom): got [${g.shape}] for filter [${filterShape}]`);
  }
  const dW = call('Transpose', { x: g }, { perm: [1, 2, 0, 3] }, backend); // [KH, KW, ci, co]
  free(backend, g);
  return dW;
};

/** ∂L/∂x for y = conv2d(x, W) with stride 1, via conv2d of dy with the flipped, transposed filter. */
export const conv2DBackpropInput: tf.KernelFunc = ({ inputs, backend, attrs }) => {
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
