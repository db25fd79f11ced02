// Watches the agent's audio as the page renders it (WebRTC transport: the remote track) and reports when it
// becomes audible and when it has gone silent, plus running stats. It outputs silence: an <audio> element plays
// the track, this node only listens.

const STATS_EVERY_MS = 50;

class MeterProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { audibleDbfs = -50, silenceMs = 30 } = options.processorOptions ?? {};
    this.audibleRms = 10 ** (audibleDbfs / 20);
    this.silenceFrames = Math.round((sampleRate * silenceMs) / 1000);
    this.audible = false;
    this.quietFrames = 0;
    this.stats = { renderedFrames: 0, audibleFrames: 0, audibleSumSquares: 0, peak: 0 };
    this.statsEvery = Math.round((sampleRate * STATS_EVERY_MS) / 1000);
    this.sinceStats = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    const length = channels?.[0]?.length ?? 128;
    let sumSquares = 0;
    if (channels && channels.length > 0) {
      for (let i = 0; i < length; i++) {
        let s = 0;
        for (const channel of channels) s += channel[i];
        s /= channels.length;
        sumSquares += s * s;
        const magnitude = Math.abs(s);
        if (magnitude > this.stats.peak) this.stats.peak = magnitude;
      }
    }
    const loud = Math.sqrt(sumSquares / length) >= this.audibleRms;
    this.stats.renderedFrames += length;
    if (loud) {
      this.stats.audibleFrames += length;
      this.stats.audibleSumSquares += sumSquares;
      this.quietFrames = 0;
      if (!this.audible) {
        this.audible = true;
        this.port.postMessage({ type: 'audible', stats: { ...this.stats } });
      }
    } else if (this.audible) {
      this.quietFrames += length;
      if (this.quietFrames >= this.silenceFrames) {
        this.audible = false;
        this.port.postMessage({
          type: 'silent',
          quietMs: (this.quietFrames / sampleRate) * 1000,
          stats: { ...this.stats },
        });
      }
    }
    this.sinceStats += length;
    if (this.sinceStats >= this.statsEvery) {
      this.sinceStats = 0;
      this.port.postMessage({ type: 'stats', stats: { ...this.stats }, audible: this.audible });
    }
    return true;
  }
}

registerProcessor('repartee-meter', MeterProcessor);
