export class SessionClosedError extends Error {
  override readonly name = 'SessionClosedError';
  constructor() {
    super('the session is closed');
  }
}

export class SessionNotStartedError extends Error {
  override readonly name = 'SessionNotStartedError';
  constructor() {
    super('start the session with an audio output before pushing audio');
  }
}
