// A read-only window onto what the page really received and rendered, for tests and for curious people:
// `window.reparteeDebug.snapshot()` in the console.

const LOG_LIMIT = 300;

export function createDebugState() {
  const state = {
    transport: null,
    sessionId: null,
    connected: false,
    agentState: null,
    messageCounts: {},
    /** Control messages in and out (audio excluded), oldest first: { dir, type, speechId, event, atMs }. */
    log: [],
    mic: { rms: 0, peak: 0, framesSent: 0 },
    agentAudio: {
      /** PCM16 samples received from the server (WebSocket only; WebRTC audio arrives as a track). */
      receivedSamples: 0,
      receivedRms: 0,
      /** Agent audio rendered by the page's audio graph, in ms, and the part of it above -50 dBFS. */
      renderedMs: 0,
      audibleMs: 0,
      /** RMS (full scale 1) over the audible part, and the peak. */
      audibleRms: 0,
      peak: 0,
      playing: false,
      lastStartedAtMs: null,
      lastStoppedAtMs: null,
      /**
       * Per speech id (times are performance.now()): startedAtMs (first sample rendered), clearedAtMs (`clear`
       * received), stoppedAtMs (audio stopped at the page after a clear), finishedAtMs, playedMs, and
       * audibleMsAfterStop: audible agent audio rendered after the stop and before the next `speech`.
       */
      speeches: {},
    },
    errors: [],
  };
  let receivedSumSquares = 0;
  let watchedAfterStop = null;

  const speech = (speechId) => {
    state.agentAudio.speeches[speechId] ??= {
      startedAtMs: null,
      clearedAtMs: null,
      stoppedAtMs: null,
      finishedAtMs: null,
      playedMs: 0,
      audibleMsAtStop: null,
      audibleMsAfterStop: 0,
    };
    return state.agentAudio.speeches[speechId];
  };
  const audio = state.agentAudio;

  return {
    snapshot: () => structuredClone(state),
    set(fields) {
      Object.assign(state, fields);
    },
    logMessage(dir, message) {
      if (dir === 'in') state.messageCounts[message.type] = (state.messageCounts[message.type] ?? 0) + 1;
      state.log.push({
        dir,
        type: message.type,
        speechId: message.speechId,
        event: message.event,
        atMs: performance.now(),
      });
      if (state.log.length > LOG_LIMIT) state.log.shift();
    },
    error(message) {
      state.errors.push(message);
    },
    micLevel(rms, peak) {
      state.mic.rms = rms;
      state.mic.peak = peak;
    },
    micFrameSent() {
      state.mic.framesSent++;
    },
    received(samples) {
      for (let i = 0; i < samples.length; i++) receivedSumSquares += (samples[i] / 0x8000) ** 2;
      audio.receivedSamples += samples.length;
      audio.receivedRms = Math.sqrt(receivedSumSquares / audio.receivedSamples);
    },
    /** Cumulative render stats from a worklet: { renderedFrames, audibleFrames, audibleSumSquares, peak }. */
    rendered(stats, sampleRate) {
      audio.renderedMs = (stats.renderedFrames / sampleRate) * 1000;
      audio.audibleMs = (stats.audibleFrames / sampleRate) * 1000;
      audio.audibleRms = stats.audibleFrames ? Math.sqrt(stats.audibleSumSquares / stats.audibleFrames) : 0;
      audio.peak = stats.peak;
      if (watchedAfterStop)
        watchedAfterStop.audibleMsAfterStop = audio.audibleMs - watchedAfterStop.audibleMsAtStop;
    },
    announced() {
      watchedAfterStop = null;
    },
    started(speechId, atMs) {
      speech(speechId).startedAtMs ??= atMs;
      audio.playing = true;
      audio.lastStartedAtMs = atMs;
    },
    cleared(speechId, atMs) {
      speech(speechId).clearedAtMs = atMs;
    },
    /** Call after `rendered()` got the stats of the moment the audio stopped. */
    stopped(speechId, atMs, playedMs) {
      const record = speech(speechId);
      record.stoppedAtMs = atMs;
      record.playedMs = playedMs;
      record.audibleMsAtStop = audio.audibleMs;
      record.audibleMsAfterStop = 0;
      watchedAfterStop = record;
      audio.playing = false;
      audio.lastStoppedAtMs = atMs;
    },
    finished(speechId, atMs, playedMs) {
      const record = speech(speechId);
      record.finishedAtMs = atMs;
      record.playedMs = playedMs;
      audio.playing = false;
      audio.lastStoppedAtMs = atMs;
    },
  };
}

/** Publishes the snapshot function on window, read-only. */
export function exposeDebug(debug) {
  Object.defineProperty(window, 'reparteeDebug', {
    value: Object.freeze({ snapshot: debug.snapshot }),
    configurable: false,
    writable: false,
  });
}
