/**
 * Chart text at its CSS size whatever the SVG's scale. A chart drawn in a fixed viewBox shrinks with its box, and
 * its text with it (a 640-unit chart on a 390 px phone drew 11-unit ticks at under 6 px). This action sets the
 * custom property `--u` on the SVG: viewBox units per CSS pixel when the chart is drawn smaller than its viewBox,
 * else 1. Chart text sizes itself as `calc(11px * var(--u, 1))`, so it never renders below its nominal size (and
 * does not grow when the chart is drawn larger). Before hydration `--u` is unset and the text keeps its nominal
 * viewBox size.
 */
export function unitsPerPixel(viewBoxWidth: number, renderedWidth: number): number {
  if (!(viewBoxWidth > 0) || !(renderedWidth > 0)) return 1;
  return Math.max(1, viewBoxWidth / renderedWidth);
}

export function readableText(svg: SVGSVGElement) {
  const update = () => {
    const u = unitsPerPixel(svg.viewBox.baseVal?.width ?? 0, svg.getBoundingClientRect().width);
    svg.style.setProperty('--u', u.toFixed(3));
  };
  update();
  const ro = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(update);
  ro?.observe(svg);
  return { destroy: () => ro?.disconnect() };
}
