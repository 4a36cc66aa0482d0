// Ten DDIM steps (η = 0) with the shipped pixel-space U-Net: one digit of each class.
const { unet, schedule } = await loadModel('unet-mnist');
const noise = makeNoise(2024);
const wanted = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]; // the class of each sample (fewer samples, less work)
const xT = noise.normal([wanted.length, 28, 28, 1]) as tf.Tensor4D;

const visited: number[] = [];
const x0 = await samplers.ddim(conditioned(unet.model, wanted), xT, schedule, {
  noise,
  steps: 10,
  eta: 0,
  onStep: ({ t }) => { visited.push(t); },
});
console.log('DDIM visited t =', visited.join(' → '));
show(x0, { cols: wanted.length, range: [-1, 1] });
tf.dispose([xT, x0]);
