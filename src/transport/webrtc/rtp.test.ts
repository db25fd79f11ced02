import { describe, expect, it } from 'vitest';
import type { RtpPacket } from 'werift';
import { type AudioFrame, frameDurationMs } from '../../audio/frame.ts';
import { rmsDbfs } from '../../audio/level.ts';
import { OPUS_FRAME_SAMPLES, OpusDecoder, OpusEncoder } from '../../audio/opus.ts';
import { RtpAudioInput } from './rtp-input.ts';
import { OpusRtpSink } from './rtp-sink.ts';

const tone = (samples = OPUS_FRAME_SAMPLES) =>
  Int16Array.from({ length: samples }, (_, i) =>
    Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / 48_000)),
  );

function sinkWithPackets(connected = true) {
  const packets: RtpPacket[] = [];
  const errors: Error[] = [];
  const sink = new OpusRtpSink(
    { sendRtp: async (packet) => void packets.push(packet) },
    () => connected,
    (error) => errors.push(error),
  );
  return { sink, packets, errors };
}

describe('OpusRtpSink', () => {
  it('numbers contiguous 20 ms frames +1 and +960, and marks a new talkspurt after a gap', () => {
    const { sink, packets } = sinkWithPackets();
    sink.sendAudio(tone(), 1000);
    sink.sendAudio(tone(), 1020);
    sink.sendAudio(tone(), 1040);
    sink.sendAudio(tone(), 1560); // 500 ms later than contiguous
    const [a, b, c, d] = packets.map((p) => p.header);
    expect([a.marker, b.marker, c.marker, d.marker]).toEqual([true, false, false, true]);
    expect((b.sequenceNumber - a.sequenceNumber) & 0xffff).toBe(1);
    expect((c.timestamp - b.timestamp) >>> 0).toBe(960);
    expect((d.timestamp - c.timestamp) >>> 0).toBe(520 * 48);
  });

  it('pads the short last chunk of a reply to a whole Opus frame that decodes to audio', () => {
    const { sink, packets } = sinkWithPackets();
    sink.sendAudio(tone(300), 0);
    const decoded = new OpusDecoder().decode(packets[0].payload);
    expect(decoded.length).toBe(OPUS_FRAME_SAMPLES);
  });

  it('reports a failing sender once, not once per packet', async () => {
    const errors: Error[] = [];
    const sink = new OpusRtpSink(
      { sendRtp: () => Promise.reject(new Error('socket gone')) },
      () => true,
      (e) => errors.push(e),
    );
    for (let i = 0; i < 5; i++) sink.sendAudio(tone(), i * 20);
    await new Promise((r) => setTimeout(r, 0));
    expect(errors.map((e) => e.message)).toEqual(['socket gone']);
    expect(sinkWithPackets(false).sink.isOpen()).toBe(false);
  });
});

describe('RtpAudioInput', () => {
  const encoder = new OpusEncoder();
  const packet = (sequenceNumber: number, timestamp: number) => ({
    sequenceNumber,
    timestamp,
    payload: encoder.encode(tone()),
  });

  it('decodes to 16 kHz frames stamped on the sender timeline, anchored at arrival', async () => {
    const frames: AudioFrame[] = [];
    const input = await RtpAudioInput.create((f) => frames.push(f));
    for (let i = 0; i < 10; i++)
      input.push(packet(65_530 + i, 4_294_966_000 + i * 960), 5000 + i * 20 + (i % 3)); // wraps
    input.close();
    expect(frames.every((f) => f.sampleRate === 16_000)).toBe(true);
    expect(frames[0].timestampMs).toBe(4980);
    const total = frames.reduce((ms, f) => ms + frameDurationMs(f), 0);
    expect(total).toBeGreaterThan(170);
    expect(total).toBeLessThanOrEqual(200);
    expect(frames.at(-1)!.timestampMs).toBe(4980 + 9 * 20); // arrival jitter does not bend the timeline
    expect(rmsDbfs(frames.at(-1)!.samples)).toBeGreaterThan(-30);
  });

  it('drops duplicates and late packets, fills a short loss with silence, jumps over a long one', async () => {
    const frames: AudioFrame[] = [];
    const input = await RtpAudioInput.create((f) => frames.push(f));
    input.push(packet(1, 0), 1000);
    input.push(packet(1, 0), 1001); // duplicate
    input.push(packet(3, 1920), 1040); // packet 2 lost
    input.push(packet(2, 960), 1041); // arrives late: its moment has passed
    input.push(packet(4, 2880 + 48_000), 2060); // a second of silence suppressed by the sender
    input.close();
    const starts = frames.map((f) => f.timestampMs);
    expect(starts).toEqual([980, 1000, 1020, 2040]);
    expect(rmsDbfs(frames[1].samples)).toBeLessThan(-40); // the concealed gap (the resampler rings into it)
  });

  it('refuses an empty payload with a format error', async () => {
    const input = await RtpAudioInput.create(() => {});
    expect(() => input.push({ sequenceNumber: 1, timestamp: 0, payload: new Uint8Array(0) }, 0)).toThrow(
      /empty Opus packet/,
    );
    input.close();
  });
});
