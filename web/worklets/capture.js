// Microphone tap on the audio thread: reports the input level and, when sending is on, cuts the signal into
// 20 ms PCM16 frames at `targetRate` for the WebSocket transport.

const FRAME_MS = 20;
const LEVEL_EVERY_MS = 50;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.targetRate = options.processorOptions?.targetRate ?? sampleRate;
    this.step = sampleRate / this.targetRate; // input samples per output sample
    this.position = 0; // fractional read position of the next output sample, relative to the current block
    this.previous = 0; // last input sample of the previous block, for interpolation across blocks
    this.frameLength = Math.round((this.targetRate * FRAME_MS) / 1000);
    this.frame = new Int16Array(this.frameLength);
    this.filled = 0;
    this.sending = false;
    this.levelEvery = Math.round((sampleRate * LEVEL_EVERY_MS) / 1000);
    this.levelSamples = 0;
    this.levelSumSquares = 0;
    this.levelPeak = 0;
    this.port.onmessage = (event) => {
      if (event.data?.type === 'send') {
        this.sending = Boolean(event.data.enabled);
        this.filled = 0;
      }
    };
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const input = channels.length === 1 ? channels[0] : downmix(channels);
    this.measure(input);
    if (this.sending) this.cut(input);
    return true;
  }

  measure(input) {
    for (let i = 0; i < input.length; i++) {
      const s = input[i];
      this.levelSumSquares += s * s;
      const magnitude = Math.abs(s);
      if (magnitude > this.levelPeak) this.levelPeak = magnitude;
    }
    this.levelSamples += input.length;
    if (this.levelSamples < this.levelEvery) return;
    this.port.postMessage({
      type: 'level',
      rms: Math.sqrt(this.levelSumSquares / this.levelSamples),
      peak: this.levelPeak,
    });
    this.levelSamples = 0;
    this.levelSumSquares = 0;
    this.levelPeak = 0;
  }

  cut(input) {
    if (this.step === 1) {
      for (let i = 0; i < input.length; i++) this.push(input[i]);
      return;
    }
    // Linear interpolation; when downsampling, each output sample averages the inputs it spans, a cheap
    // low-pass that keeps the worst aliasing out (only used when the context runs at an unsupported rate).
    while (this.position < input.length) {
      const index = Math.floor(this.position);
      const fraction = this.position - index;
      const a = index === 0 ? this.previous : input[index - 1];
      const b = input[index];
      let value = a + (b - a) * fraction;
      if (this.step > 1) {
        const span = Math.min(Math.floor(this.step), index + 1);
        let sum = 0;
        for (let k = 0; k < span; k++) sum += input[index - k];
        value = sum / span;
      }
      this.push(value);
      this.position += this.step;
    }
    this.position -= input.length;
    this.previous = input[input.length - 1];
  }

  push(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    this.frame[this.filled++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    if (this.filled < this.frameLength) return;
    const frame = this.frame;
    this.port.postMessage({ type: 'frame', samples: frame }, [frame.buffer]);
    this.frame = new Int16Array(this.frameLength);
    this.filled = 0;
  }
}

function downmix(channels) {
  const out = new Float32Array(channels[0].length);
  for (const channel of channels) for (let i = 0; i < out.length; i++) out[i] += channel[i] / channels.length;
  return out;
}

registerProcessor('repartee-capture', CaptureProcessor);
