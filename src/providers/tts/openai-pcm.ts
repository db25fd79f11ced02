/** Raw PCM16 over HTTP or WebSocket, shared by the cloud TTS clients (OpenAI, ElevenLabs). */

/** A cloud TTS request failed; the message names the provider and never carries a key. */
export class TtsRequestError extends Error {
  override readonly name = 'TtsRequestError';
}

/**
 * Little-endian PCM16 from a byte stream whose chunks may split a sample: the odd byte is carried into the next
 * chunk, so no sample is ever torn.
 */
export class PcmChunker {
  private carry: Uint8Array | undefined;

  push(bytes: Uint8Array): Int16Array {
    let data = bytes;
    if (this.carry) {
      data = new Uint8Array(this.carry.length + bytes.length);
      data.set(this.carry);
      data.set(bytes, this.carry.length);
      this.carry = undefined;
    }
    const even = data.length - (data.length % 2);
    if (even < data.length) this.carry = data.slice(even);
    const out = new Int16Array(even / 2);
    const view = new DataView(data.buffer, data.byteOffset, even);
    for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
    return out;
  }

  /** Bytes left over at the end of the stream (0 or 1): half a sample cannot be played and is dropped. */
  end(): number {
    const left = this.carry?.length ?? 0;
    this.carry = undefined;
    return left;
  }
}

/** Decodes a base64 audio payload (ElevenLabs WebSocket messages), carrying a torn sample over. */
export function base64ToPcm(base64: string, chunker: PcmChunker): Int16Array {
  return chunker.push(Buffer.from(base64, 'base64'));
}
