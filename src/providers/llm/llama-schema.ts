import type { GbnfJsonSchema } from 'node-llama-cpp';

/**
 * Narrows an arbitrary JSON Schema (as MCP servers and tool authors write them) to the subset node-llama-cpp can
 * turn into a GBNF grammar. Keywords the grammar cannot express (`pattern`, `minimum`, `title`, `default`, …) are
 * dropped rather than rejected: the tool runner validates the arguments against the full schema anyway, and a
 * grammar that is slightly looser than the schema is far better than a turn that crashes.
 */
export function toGbnfSchema(schema: unknown): GbnfJsonSchema {
  return convert(schema, rootDefs(schema), 0);
}

/** The schema of a function's parameters, or undefined when it takes none. */
export function toGbnfParams(schema: Record<string, unknown> | undefined): GbnfJsonSchema | undefined {
  if (!schema) return undefined;
  const props = schema.properties;
  const additional = schema.additionalProperties;
  const noProps = !props || (typeof props === 'object' && Object.keys(props).length === 0);
  const objectLike = schema.type === 'object' || schema.type === undefined;
  if (objectLike && noProps && (additional === undefined || additional === false)) return undefined;
  return toGbnfSchema(schema);
}

type Json = Record<string, unknown>;

const ANY: GbnfJsonSchema = { type: ['string', 'number', 'boolean', 'null'] };
const BASIC = new Set(['string', 'number', 'integer', 'boolean', 'null']);
const FORMATS = new Set(['date-time', 'time', 'date']);
// Recursive schemas ($ref cycles) are cut off here and become ANY.
const MAX_DEPTH = 12;

function rootDefs(schema: unknown): Json {
  if (!isObject(schema)) return {};
  return {
    ...(isObject(schema.definitions) ? schema.definitions : {}),
    ...(isObject(schema.$defs) ? schema.$defs : {}),
  };
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function withDescription(out: GbnfJsonSchema, s: Json): GbnfJsonSchema {
  return typeof s.description === 'string' ? ({ ...out, description: s.description } as GbnfJsonSchema) : out;
}

function convert(s: unknown, defs: Json, depth: number): GbnfJsonSchema {
  if (!isObject(s) || depth > MAX_DEPTH) return ANY;
  if (typeof s.$ref === 'string') {
    const name = s.$ref.replace(/^#\/(\$defs|definitions)\//, '');
    return defs[name] ? convert({ ...(defs[name] as Json), ...omit(s, '$ref') }, defs, depth + 1) : ANY;
  }
  if ('const' in s) return withDescription({ const: s.const as string | number | boolean | null }, s);
  if (Array.isArray(s.enum))
    return withDescription({ enum: s.enum as (string | number | boolean | null)[] }, s);
  const union = (s.oneOf ?? s.anyOf) as unknown;
  if (Array.isArray(union)) {
    return withDescription({ oneOf: union.map((u) => convert(u, defs, depth + 1)) }, s);
  }
  if (Array.isArray(s.allOf) && s.allOf.length > 0) {
    return convert({ ...(s.allOf[0] as Json), ...omit(s, 'allOf') }, defs, depth + 1);
  }
  const type = s.type;
  if (Array.isArray(type)) {
    const types = type.filter((t): t is string => typeof t === 'string');
    if (types.every((t) => BASIC.has(t))) return withDescription({ type: types as never }, s);
    return withDescription({ oneOf: types.map((t) => convert({ ...s, type: t }, defs, depth + 1)) }, s);
  }
  switch (type) {
    case 'object':
      return withDescription(convertObject(s, defs, depth), s);
    case 'array':
      return withDescription(
        {
          type: 'array',
          ...(s.items !== undefined ? { items: convert(s.items, defs, depth + 1) } : {}),
          ...(Array.isArray(s.prefixItems)
            ? { prefixItems: s.prefixItems.map((p) => convert(p, defs, depth + 1)) }
            : {}),
          ...numeric(s, 'minItems', 'maxItems'),
        },
        s,
      );
    case 'string':
      if (typeof s.format === 'string' && FORMATS.has(s.format)) {
        return withDescription({ type: 'string', format: s.format as 'date' }, s);
      }
      return withDescription({ type: 'string', ...numeric(s, 'minLength', 'maxLength') }, s);
    case 'number':
    case 'integer':
    case 'boolean':
    case 'null':
      return withDescription({ type }, s);
    default:
      // No type: an object if it lists properties, anything otherwise.
      return isObject(s.properties) ? convert({ ...s, type: 'object' }, defs, depth + 1) : ANY;
  }
}

function convertObject(s: Json, defs: Json, depth: number): GbnfJsonSchema {
  const props = isObject(s.properties) ? s.properties : {};
  const properties: Record<string, GbnfJsonSchema> = {};
  for (const [key, value] of Object.entries(props)) properties[key] = convert(value, defs, depth + 1);
  const required = Array.isArray(s.required)
    ? s.required.filter((r): r is string => typeof r === 'string' && r in properties)
    : [];
  // With no declared properties an object is free-form; with some, extra keys only waste the model's tokens.
  const additional =
    s.additionalProperties === undefined
      ? Object.keys(properties).length === 0
      : isObject(s.additionalProperties)
        ? convert(s.additionalProperties, defs, depth + 1)
        : s.additionalProperties === true;
  return {
    type: 'object',
    properties,
    required,
    additionalProperties: additional,
    ...numeric(s, 'minProperties', 'maxProperties'),
  } as GbnfJsonSchema;
}

function numeric(s: Json, ...keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) if (typeof s[k] === 'number') out[k] = s[k] as number;
  return out;
}

function omit(s: Json, key: string): Json {
  const { [key]: _, ...rest } = s;
  return rest;
}
