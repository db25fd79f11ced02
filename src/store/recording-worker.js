// Encodes recordings to Ogg Opus for the PostgreSQL store (the SQLite store does it in its own worker), so the
// encoding never runs on the thread that carries the audio. Plain JavaScript: it starts without a TypeScript
// loader under node, tsx and vitest alike.
import { parentPort, workerData } from 'node:worker_threads';
import { TrackRecorder } from './ogg-opus.js';

const recorders = new Map(); // `${sessionId}\n${side}` -> TrackRecorder
let serial = 1;

parentPort.on('message', (message) => {
  if (message.op === 'audio') {
    for (const frame of message.frames) {
      const key = `${frame.sessionId}\n${frame.side}`;
      let recorder = recorders.get(key);
      if (!recorder) {
        recorder = new TrackRecorder(workerData.maxRecordingMs);
        recorders.set(key, recorder);
      }
      recorder.push(frame.atMs, frame.samples, frame.sampleRate);
    }
  } else if (message.op === 'finish') {
    const rows = [];
    const sessions =
      message.sessionId === undefined
        ? new Set([...recorders.keys()].map((key) => key.split('\n')[0]))
        : new Set([message.sessionId]);
    for (const sessionId of sessions) {
      for (const side of ['user', 'agent']) {
        const key = `${sessionId}\n${side}`;
        const recorder = recorders.get(key);
        if (!recorder) continue;
        recorders.delete(key);
        try {
          const { bytes, durationMs } = recorder.finish(serial++);
          rows.push({ t: 'recording', sessionId, side, mime: 'audio/ogg; codecs=opus', durationMs, bytes });
        } catch (error) {
          parentPort.postMessage({ op: 'failed', sessionId, side, message: String(error?.message ?? error) });
        }
      }
    }
    parentPort.postMessage({ op: 'finished', id: message.id, rows });
  }
});
