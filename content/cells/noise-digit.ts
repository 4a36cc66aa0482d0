// Jump straight to any t with the closed form x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε.
const schedule = makeSchedule('linear', 1000);
const x0 = await digits(1, 3);            // one held-out "3", pixels in [−1, 1]
const eps = makeNoise(42).normal([1, 28, 28, 1]) as tf.Tensor4D;

const ts = [0, 50, 100, 250, 500, 750, 1000];   // edit me
const frames = ts.map((t) => qSample(schedule, x0, t, eps));
const strip = tf.concat(frames);
show(strip, { cols: ts.length, range: [-1, 1], label: `t = ${ts.join(', ')}` });

for (const t of ts) {
  console.log(`t = ${t}: signal √ᾱ = ${schedule.sqrtAlphaBar[t].toFixed(5)}, noise √(1−ᾱ) = ${schedule.sqrtOneMinusAlphaBar[t].toFixed(5)}`);
}
tf.dispose([x0, eps, strip, ...frames]);
