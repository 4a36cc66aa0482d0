/** One line of the quality-against-steps chart: (sampling steps, FD) points. */
export interface FdSeries {
  label: string;
  key: string;
  points: [number, number][];
}
