// Plays the agent's PCM16 (WebSocket transport) on the audio thread from a queue of chunks tagged with their
// speech id, resampled to the context rate. It reports what it actually renders: the first sample of each
// playout (`started`), a buffer that ran dry (`drained`), a flush on `clear` (`cleared`), and running stats.

const STATS_EVERY_MS = 50;
/** A render quantum quieter than this (RMS, full scale 1) counts as silence in the audible-time stats. */
const AUDIBLE_RMS = 10 ** (-50 / 20);

class PlayerProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.inputRate = sampleRate;
    this.queue = []; // { speechId, samples: Float32Array, offset }
    this.queuedFrames = 0;
    this.playout = null; // { speechId, playedFrames, started }
    this.resampler = null;
    this.resamplerSpeechId = null;
    this.stats = { renderedFrames: 0, audibleFrames: 0, audibleSumSquares: 0, peak: 0 };
    this.statsEvery = Math.round((sampleRate * STATS_EVERY_MS) / 1000);
    this.sinceStats = 0;
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  onMessage(message) {
    switch (message.type) {
      case 'format':
        this.inputRate = message.sampleRate;
        this.resampler = null;
        break;
      case 'audio':
        this.enqueue(message.speechId, message.samples);
        break;
      case 'clear':
        this.flush(message.speechId);
        break;
    }
  }

  enqueue(speechId, pcm16) {
    if (!this.resampler || this.resamplerSpeechId !== speechId) {
      this.resampler = new LinearResampler(this.inputRate, sampleRate);
      this.resamplerSpeechId = speechId;
    }
    const floats = new Float32Array(pcm16.length);
    for (let i = 0; i < pcm16.length; i++) floats[i] = pcm16[i] / 0x8000;
    const samples = this.resampler.process(floats);
    if (samples.length === 0) return;
    this.queue.push({ speechId, samples, offset: 0 });
    this.queuedFrames += samples.length;
  }

  /** Drops everything buffered at once; the reply to a `clear`. */
  flush(speechId) {
    const flushedFrames = this.queuedFrames;
    const playout = this.playout;
    this.queue = [];
    this.queuedFrames = 0;
    this.resampler = null;
    this.playout = null;
    this.port.postMessage({
      type: 'cleared',
      speechId,
      playedFrames: playout && playout.speechId === speechId ? playout.playedFrames : 0,
      flushedFrames,
      stats: { ...this.stats },
    });
  }

  process(_inputs, outputs) {
    const channels = outputs[0];
    const out = channels[0];
    let written = 0;
    while (written < out.length && this.queue.length > 0) {
      const chunk = this.queue[0];
      if (!this.playout || this.playout.speechId !== chunk.speechId) {
        this.playout = { speechId: chunk.speechId, playedFrames: 0, started: false };
      }
      if (!this.playout.started) {
        this.playout.started = true;
        this.port.postMessage({ type: 'started', speechId: chunk.speechId, stats: { ...this.stats } });
      }
      const n = Math.min(out.length - written, chunk.samples.length - chunk.offset);
      out.set(chunk.samples.subarray(chunk.offset, chunk.offset + n), written);
      chunk.offset += n;
      written += n;
      this.queuedFrames -= n;
      this.playout.playedFrames += n;
      if (chunk.offset >= chunk.samples.length) {
        this.queue.shift();
        if (this.queue.length === 0) {
          this.port.postMessage({
            type: 'drained',
            speechId: chunk.speechId,
            playedFrames: this.playout.playedFrames,
            stats: { ...this.stats },
          });
        }
      }
    }
    out.fill(0, written);
    for (let c = 1; c < channels.length; c++) channels[c].set(out);
    this.measure(out, written);
    return true;
  }

  measure(out, written) {
    let sumSquares = 0;
    for (let i = 0; i < written; i++) {
      sumSquares += out[i] * out[i];
      const magnitude = Math.abs(out[i]);
      if (magnitude > this.stats.peak) this.stats.peak = magnitude;
    }
    this.stats.renderedFrames += written;
    if (written > 0 && Math.sqrt(sumSquares / written) >= AUDIBLE_RMS) {
      this.stats.audibleFrames += written;
      this.stats.audibleSumSquares += sumSquares;
    }
    this.sinceStats += out.length;
    if (this.sinceStats < this.statsEvery) return;
    this.sinceStats = 0;
    this.port.postMessage({ type: 'stats', stats: { ...this.stats }, queuedFrames: this.queuedFrames });
  }
}

/** Streaming linear interpolation from one rate to another; speech needs no better on the way up. */
class LinearResampler {
  constructor(fromRate, toRate) {
    this.step = fromRate / toRate;
    this.position = 0;
    this.previous = 0;
  }

  process(input) {
    if (this.step === 1) return input;
    const out = new Float32Array(Math.ceil((input.length - this.position) / this.step) + 1);
    let n = 0;
    while (this.position < input.length) {
      const index = Math.floor(this.position);
      const fraction = this.position - index;
      const a = index === 0 ? this.previous : input[index - 1];
      out[n++] = a + (input[index] - a) * fraction;
      this.position += this.step;
    }
    this.position -= input.length;
    this.previous = input[input.length - 1];
    return out.subarray(0, n);
  }
}

registerProcessor('repartee-player', PlayerProcessor);
