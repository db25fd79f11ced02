// Receipts for the WebRTC transport, where the agent's audio is a remote track the page cannot inspect
// frame by frame. WebRTC keeps no speech ids in the audio: the `speech` message that precedes a speech's
// packets says whose they are (the server sends no packets between speeches).
//
// - `started` and `finished` come from RTCRtpReceiver.getSynchronizationSources(): it tells when the latest
//   RTP frame was handed to the track for playout. The first new frame after `speech` is the first sample;
//   no new frame for IDLE_MS after the last one is the end. Silence inside the speech counts as played, as it
//   does over the WebSocket. (Where the API is missing, the rendered level stands in: first audible sample,
//   then FINISH_HOLD_MS of silence.)
// - `stopped` comes from the rendered level: after a `clear` the page mutes playout and the meter confirms
//   the silence.

const POLL_MS = 10;
const FRAME_MS = 20;
/** No new RTP frame for this long: the speech has played out (or the server paused; more frames resume it). */
const IDLE_MS = 80;
/** Level-only fallback: silence this long (after the meter's own 30 ms) ends a speech. */
const FINISH_HOLD_MS = 100;

export function createRtcPlayout({ receipts, debug, receiver }) {
  const sources = typeof receiver.getSynchronizationSources === 'function' ? receiver : null;
  let playout = null; // { speechId, startedAt, lastFrameAt, lastRtp, finished, lastAudibleAt, clearing }
  let audible = false;
  let poller;
  let finishTimer;

  const latestFrame = () => {
    const [source] = sources.getSynchronizationSources();
    if (!source) return null;
    // The spec's clock is performance.timeOrigin + performance.now(); older browsers used performance.now().
    const at = source.timestamp > 1e12 ? source.timestamp - performance.timeOrigin : source.timestamp;
    return { rtp: source.rtpTimestamp, at };
  };

  const poll = () => {
    if (!playout || playout.clearing) return;
    const frame = latestFrame();
    if (!frame) return;
    if (frame.rtp !== playout.lastRtp) {
      playout.lastRtp = frame.rtp;
      playout.lastFrameAt = frame.at;
      playout.finished = false;
      if (playout.startedAt === null) {
        playout.startedAt = frame.at;
        receipts.started(playout.speechId, frame.at);
      }
    } else if (
      playout.startedAt !== null &&
      !playout.finished &&
      performance.now() - playout.lastFrameAt > IDLE_MS
    ) {
      playout.finished = true;
      receipts.finished(playout.speechId, undefined, playout.lastFrameAt + FRAME_MS);
    }
  };

  const stopPolling = () => {
    clearInterval(poller);
    poller = undefined;
  };

  const playedMs = () => {
    if (!playout || playout.startedAt === null) return 0;
    const end = sources
      ? playout.lastFrameAt + FRAME_MS
      : audible
        ? performance.now()
        : playout.lastAudibleAt;
    return Math.max(0, end - playout.startedAt);
  };

  const settleClear = (atMs) => {
    receipts.stopped(playout.speechId, playedMs(), atMs);
    playout = null;
    stopPolling();
  };

  return {
    speech(speechId) {
      clearTimeout(finishTimer);
      debug.announced();
      playout = {
        speechId,
        startedAt: null,
        lastFrameAt: null,
        lastRtp: sources ? latestFrame()?.rtp : undefined,
        finished: false,
        lastAudibleAt: null,
        clearing: false,
      };
      if (sources) {
        stopPolling();
        poller = setInterval(poll, POLL_MS);
      } else if (audible) {
        this.audible();
      }
    },
    audible() {
      audible = true;
      clearTimeout(finishTimer);
      if (sources || !playout || playout.clearing || playout.startedAt !== null) return;
      playout.startedAt = performance.now();
      receipts.started(playout.speechId);
    },
    silent(quietMs) {
      audible = false;
      const silentSince = performance.now() - quietMs;
      if (!playout) return;
      if (playout.clearing) {
        settleClear(silentSince);
        return;
      }
      if (sources || playout.startedAt === null) return;
      playout.lastAudibleAt = silentSince;
      const current = playout;
      finishTimer = setTimeout(() => {
        if (playout === current && !audible) receipts.finished(current.speechId, undefined, silentSince);
      }, FINISH_HOLD_MS);
    },
    /** Call after muting playout: the stop is reported once the meter hears the silence. */
    clear(speechId) {
      clearTimeout(finishTimer);
      const id = speechId ?? playout?.speechId;
      if (id === undefined) return;
      debug.cleared(id, performance.now());
      if (playout?.speechId !== id) playout = { speechId: id, startedAt: null, lastFrameAt: null };
      if (sources) poll();
      playout.clearing = true;
      if (!audible) settleClear(performance.now());
    },
    dispose() {
      clearTimeout(finishTimer);
      stopPolling();
    },
  };
}
