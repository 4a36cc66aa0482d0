// The training objective, measured: how far is the shipped network's ε̂ from the true ε at each t?
const { unet, schedule } = await loadModel('unet-mnist');
const n = 32;
const x0 = await digits(n);                       // the first 32 held-out digits
const labels = tf.tensor1d(await digitLabels(n), 'int32');
const noise = makeNoise(7);

const ts = [1, 10, 25, 50, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000];
const mse: number[] = [];
for (const t of ts) {
  const eps = noise.normal([n, 28, 28, 1]) as tf.Tensor4D;
  const loss = tf.tidy(() => {
    const xt = qSample(schedule, x0, t, eps);
    const epsHat = unet.model(xt, tf.fill([n], t, 'int32') as tf.Tensor1D, labels);
    return tf.mean(tf.square(tf.sub(epsHat, eps)));
  });
  mse.push((await loss.data())[0]);
  tf.dispose([eps, loss]);
}
show(mse, { x: ts, xLabel: 't', yLabel: '‖ε − ε̂‖² per pixel' });
console.log('mean over these t:', mse.reduce((a, b) => a + b) / mse.length);
tf.dispose([x0, labels]);
