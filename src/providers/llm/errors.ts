export type LlmErrorCode =
  | 'bad-spec'
  | 'model-missing'
  | 'model-load'
  | 'backend'
  | 'missing-api-key'
  | 'request'
  | 'timeout'
  | 'closed';

/** Every failure of an LLM provider, with a code the agent can branch on and a message a user can act on. */
export class LlmError extends Error {
  override readonly name = 'LlmError';
  constructor(
    readonly code: LlmErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type ModelPullErrorCode = 'unknown-model' | 'network' | 'http' | 'checksum' | 'aborted';

export class ModelPullError extends Error {
  override readonly name = 'ModelPullError';
  constructor(
    readonly code: ModelPullErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
