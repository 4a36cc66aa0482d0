/**
 * Measures of generative paths and point clouds, tfjs-free (the 2-D flow playground, the flow evaluation and their
 * tests share them).
 *
 * - Straightness of a path x(0) → x(1) sampled at K + 1 points: (Σ_k ‖x_{k+1} − x_k‖) / ‖x_K − x_0‖ − 1, the extra
 *   length over the straight segment (0 for a straight path). A variant of Liu et al. 2023's straightness
 *   S(Z) = ∫ E‖(Z_1 − Z_0) − Ż_t‖² dt: both are 0 exactly when every path is a straight line walked at constant speed
 *   in direction; ours is in units of the path's own length, so it reads as "percent longer than straight".
 * - Energy distance between samples X and Y (Székely & Rizzo 2013, eq. 2.1):
 *   E = 2·E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖ ≥ 0, zero iff the distributions are equal; estimated with all pairs
 *   (the V-statistic: the within-sample means include the zero distances of a point to itself).
 */

/**
 * Mean straightness of `count` paths: `paths` holds, for each of K + 1 recorded times, all paths' points
 * (frames[k][i·dim … (i + 1)·dim)). A path whose endpoints coincide contributes 0 if it never moves, else is skipped.
 */
export function pathStraightness(frames: readonly ArrayLike<number>[], count: number, dim: number): number {
  if (frames.length < 2) throw new RangeError('a path needs at least two recorded points');
  let sum = 0;
  let used = 0;
  for (let i = 0; i < count; i++) {
    let length = 0;
    for (let k = 0; k + 1 < frames.length; k++) {
      let d2 = 0;
      for (let j = 0; j < dim; j++) d2 += (frames[k + 1][i * dim + j] - frames[k][i * dim + j]) ** 2;
      length += Math.sqrt(d2);
    }
    let e2 = 0;
    const last = frames[frames.length - 1];
    for (let j = 0; j < dim; j++) e2 += (last[i * dim + j] - frames[0][i * dim + j]) ** 2;
    const end = Math.sqrt(e2);
    if (end > 0) {
      sum += length / end - 1;
      used++;
    } else if (length === 0) {
      used++;
    }
  }
  return used === 0 ? 0 : sum / used;
}

/** Mean Euclidean distance over all pairs (i from a, j from b) of `dim`-vectors. */
function meanPairDistance(a: ArrayLike<number>, na: number, b: ArrayLike<number>, nb: number, dim: number): number {
  let s = 0;
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) {
      let d2 = 0;
      for (let k = 0; k < dim; k++) d2 += (a[i * dim + k] - b[j * dim + k]) ** 2;
      s += Math.sqrt(d2);
    }
  }
  return s / (na * nb);
}

/** Energy distance 2·E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖ between point sets x (nx points) and y (ny points) of `dim` coordinates. */
export function energyDistance(x: ArrayLike<number>, nx: number, y: ArrayLike<number>, ny: number, dim = 2): number {
  if (nx < 1 || ny < 1) throw new RangeError('energy distance needs at least one point on each side');
  return 2 * meanPairDistance(x, nx, y, ny, dim) - meanPairDistance(x, nx, x, nx, dim) - meanPairDistance(y, ny, y, ny, dim);
}
