// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} placeholders are the syntax under test
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { docsServerConfig, ToolsConfigShape } from '../config.ts';
import { expandEnv, isToolPermitted, McpConfigSchema } from './config.ts';
import { argumentsSchema, llmToolName, resultText } from './convert.ts';

describe('MCP configuration', () => {
  it('fills defaults and accepts stdio and http servers', () => {
    const [stdio, http] = McpConfigSchema.parse([
      { name: 'docs', transport: 'stdio', command: 'repartee-docs', args: ['./docs'] },
      {
        name: 'remote',
        transport: 'http',
        url: 'https://mcp.example.com/mcp',
        headers: { Authorization: 'Bearer ${T}' },
      },
    ]);
    expect(stdio).toMatchObject({ args: ['./docs'], requestTimeoutMs: 300_000, connectTimeoutMs: 30_000 });
    expect(http).toMatchObject({ transport: 'http', url: 'https://mcp.example.com/mcp' });
    expect(McpConfigSchema.parse(undefined)).toEqual([]);
  });

  it('rejects bad entries with a message that names the field', () => {
    const bad = [
      [{ name: 'x', transport: 'stdio' }, 'command'],
      [{ name: 'x', transport: 'http', url: 'ftp://host/mcp' }, 'url'],
      [{ name: 'x', transport: 'ws', url: 'ws://host' }, 'transport'],
      [{ name: 'has space', transport: 'stdio', command: 'a' }, 'name'],
      [{ name: 'x', transport: 'stdio', command: 'a', typo: 1 }, 'typo'],
      [{ name: 'x', transport: 'stdio', command: 'a', requestTimeoutMs: -1 }, 'requestTimeoutMs'],
    ] as const;
    for (const [entry, field] of bad) {
      const result = McpConfigSchema.safeParse([entry]);
      expect(result.success, JSON.stringify(entry)).toBe(false);
      expect(JSON.stringify(result.error?.issues)).toContain(field);
    }
  });

  it('allow and deny lists match names and * globs', () => {
    expect(isToolPermitted('read', {})).toBe(true);
    expect(isToolPermitted('read', { allow: ['read', 'list'] })).toBe(true);
    expect(isToolPermitted('edit', { allow: ['read', 'list'] })).toBe(false);
    expect(isToolPermitted('delete_file', { deny: ['delete_*'] })).toBe(false);
    expect(isToolPermitted('read', { allow: ['*'], deny: ['read'] })).toBe(false);
    expect(isToolPermitted('a.b', { allow: ['a*b'] })).toBe(true);
    expect(isToolPermitted('axb', { allow: ['a.b'] })).toBe(false);
  });

  it('expands ${NAME} from the environment and refuses a missing variable', () => {
    expect(expandEnv('Bearer ${TOKEN}', { TOKEN: 'abc' })).toBe('Bearer abc');
    expect(() => expandEnv('Bearer ${NOPE}', {})).toThrow('environment variable NOPE is not set');
    expect(expandEnv('no vars', {})).toBe('no vars');
  });
});

describe('MCP tool conversion', () => {
  it('names tools for OpenAI-style function calling', () => {
    expect(llmToolName('docs_', 'read')).toBe('docs_read');
    expect(llmToolName('', 'files/read.v2')).toBe('files_read_v2');
    expect(llmToolName('', 'x'.repeat(80))).toHaveLength(64);
  });

  it('validates arguments against the JSON Schema', () => {
    const schema = argumentsSchema({
      type: 'object',
      properties: { level: { type: 'integer', minimum: 0 }, tag: { type: 'string', enum: ['a', 'b'] } },
      required: ['level'],
      additionalProperties: false,
    });
    expect(schema.safeParse({ level: 3, tag: 'a' }).success).toBe(true);
    const issues = (value: unknown) => schema.safeParse(value).error?.issues.map((i) => i.message);
    expect(issues({ level: -1 })).toEqual(['level must be >= 0']);
    expect(issues({})).toEqual(["arguments must have required property 'level'"]);
    expect(issues({ level: 1, extra: true })).toEqual(['arguments must NOT have additional properties']);
    expect(schema.safeParse([1]).success).toBe(false);
  });

  it('turns a result into text', () => {
    expect(
      resultText({
        content: [
          { type: 'text', text: 'one' },
          { type: 'image', data: '', mimeType: 'image/png' },
          { type: 'resource', resource: { uri: 'file:///a.md', text: 'two' } },
        ],
      }),
    ).toBe('one\n[image, image/png]\ntwo');
    expect(resultText({ content: [], structuredContent: { n: 1 } })).toBe('{"n":1}');
  });
});

describe('tool configuration keys', () => {
  it('defaults and the bundled docs server entry', () => {
    const schema = z.object(ToolsConfigShape);
    expect(schema.parse({})).toEqual({
      mcpServers: [],
      toolTimeoutMs: 60_000,
      maxToolSteps: 5,
      longTools: {},
    });
    expect(schema.safeParse({ longTools: { statusAfterMs: -1 } }).success).toBe(false);
    const docs = McpConfigSchema.parse([docsServerConfig('./docs')])[0];
    expect(docs).toMatchObject({ name: 'docs', transport: 'stdio', command: process.execPath });
    expect(docs.transport === 'stdio' && docs.args[0]).toMatch(/bin\/repartee-docs$/);
  });
});
