// The thing page's chart: uPlot (shared/console/vendor/uplot, docs/console.md says why uPlot).
import uPlot from "../vendor/uplot/uPlot.esm.js";

const HEIGHT = 320;

// A numeric series from API values: numbers as they are, booleans as 0/1, anything else a gap.
export function numeric(value) {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return null;
}

export class Chart {
  constructor(container) {
    this.container = container;
    this.plot = null;
    this.zoomed = false;
    this.resize = new ResizeObserver(() => this.plot && this.plot.setSize(this.size()));
    this.resize.observe(container);
  }

  size() {
    return { width: Math.max(this.container.clientWidth, 240), height: HEIGHT };
  }

  // timestamps: epoch ms ascending; values: numbers or null. Keeps the zoom on a refresh.
  draw(timestamps, values, { label, unit }) {
    const data = [timestamps, values];
    this.container.dataset.points = String(timestamps.length);
    this.container.setAttribute(
      "aria-label",
      timestamps.length
        ? `Line chart of ${label}: ${timestamps.length} points from ${new Date(timestamps[0]).toISOString()} to ${new Date(timestamps[timestamps.length - 1]).toISOString()}`
        : `Line chart of ${label}: no readings in this range`,
    );
    if (this.plot && this.plot.series[1].label === label) {
      this.plot.setData(data, !this.zoomed);
      return;
    }
    this.destroy();
    this.zoomed = false;
    const chart = this;
    const opts = {
      ...this.size(),
      ms: 1, // timestamps are epoch milliseconds
      series: [
        { label: "Time" },
        { label, stroke: "#0b57a4", width: 2, fill: "rgba(11, 87, 164, 0.08)", points: { show: timestamps.length <= 200 }, spanGaps: false },
      ],
      axes: [{ stroke: "#1b1f24" }, { stroke: "#1b1f24", label: unit || undefined }],
      scales: { x: { time: true } },
      cursor: { drag: { x: true, y: false } },
      hooks: { setSelect: [() => { chart.zoomed = true; }] },
    };
    this.plot = new uPlot(opts, data, this.container);
    this.container.uplot = this.plot; // the browser tests read the drawn series from here
  }

  zoom(factor) {
    if (!this.plot) return;
    const { min, max } = this.plot.scales.x;
    const mid = (min + max) / 2;
    const half = ((max - min) / 2) * factor;
    this.zoomed = true;
    this.plot.setScale("x", { min: mid - half, max: mid + half });
  }

  reset() {
    if (!this.plot) return;
    const xs = this.plot.data[0];
    this.zoomed = false;
    if (xs.length) this.plot.setScale("x", { min: xs[0], max: xs[xs.length - 1] });
  }

  destroy() {
    if (this.plot) {
      this.plot.destroy();
      this.plot = null;
      this.container.uplot = null;
    }
  }

  dispose() {
    this.destroy();
    this.resize.disconnect();
  }
}
