import alawmulaw from 'alawmulaw';

/** The G.711 companding laws the phone network carries: μ-law (PCMU, North America/Japan) and A-law (PCMA). */
export type G711Law = 'mulaw' | 'alaw';

/** G.711 runs at 8 kHz, one byte per sample. */
export const G711_SAMPLE_RATE = 8_000;

const codecs = { mulaw: alawmulaw.mulaw, alaw: alawmulaw.alaw } as const;

/** PCM16 → G.711 bytes (ITU-T G.711 segment tables, via alawmulaw). */
export function g711Encode(law: G711Law, samples: Int16Array): Uint8Array {
  return codecs[law].encode(samples);
}

/** G.711 bytes → PCM16. */
export function g711Decode(law: G711Law, bytes: Uint8Array): Int16Array {
  return codecs[law].decode(bytes);
}
