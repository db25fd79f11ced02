/**
 * The official MCP conformance suite's scenarios we do not offer, with the reason. Every other scenario the suite
 * lists is one we claim: `npm run conformance` fails when one of those fails. (README: "Conformance".)
 */

/** Server scenarios that test a fixture of the suite's own test server (tools, resources, prompts it names). */
const fixture = (what: string) =>
  `tests the suite's fixture ${what}; repartee-docs serves documents, not the suite's test fixtures`;

export const SERVER_NOT_OFFERED: Record<string, string> = {
  'completion-complete': fixture('prompt test_prompt_with_arguments (our completions: prompt paths, docs:/// template)'),
  'tools-call-simple-text': fixture('tool test_simple_text (it "passes" only because an unknown tool answers with error text)'),
  'tools-call-image': fixture('tool test_image_content (documents are text: no image content)'),
  'tools-call-audio': fixture('tool test_audio_content (documents are text: no audio content)'),
  'tools-call-embedded-resource': fixture('tool test_embedded_resource'),
  'tools-call-mixed-content': fixture('tool test_multiple_content_types'),
  'tools-call-with-logging': fixture('tool test_tool_with_logging (our logging: edits are logged to the client)'),
  'tools-call-error': fixture('tool test_error_handling (it passes: an unknown tool is a tool error)'),
  'tools-call-with-progress': fixture('tool test_tool_with_progress (our analyze tool reports progress)'),
  'tools-call-sampling': 'repartee-docs asks the client for no LLM sampling',
  'tools-call-elicitation': 'repartee-docs asks the user nothing (elicitation is offered by our client)',
  'elicitation-sep1034-defaults': 'repartee-docs asks the user nothing (elicitation is offered by our client)',
  'elicitation-sep1330-enums': 'repartee-docs asks the user nothing (elicitation is offered by our client)',
  'json-schema-2020-12': fixture('tool json_schema_2020_12_tool'),
  'server-sse-polling': fixture('tool test_reconnection (repartee-docs keeps no event store for resumption)'),
  'resources-read-text': fixture('resource test://static-text (ours: docs:///<path>)'),
  'resources-read-binary': fixture('resource test://static-binary (documents are text)'),
  'resources-templates-read': fixture('template test://template/{id}/data (ours: docs:///{+path})'),
  'resources-subscribe': fixture('resource test://watched-resource (ours: subscribe to docs:///<path>)'),
  'resources-unsubscribe': fixture('resource test://watched-resource (ours: docs:///<path>)'),
  'prompts-get-simple': fixture('prompt test_simple_prompt'),
  'prompts-get-with-args': fixture('prompt test_prompt_with_arguments'),
  'prompts-get-embedded-resource': fixture('prompt test_prompt_with_embedded_resource (ours embed the documents)'),
  'prompts-get-with-image': fixture('prompt test_prompt_with_image (documents are text)'),
};

export const CLIENT_NOT_OFFERED: Record<string, string> = {
  'auth/client-credentials-jwt':
    'extension: machine-to-machine client credentials (no user); Repartee authorises on behalf of a person',
  'auth/client-credentials-basic':
    'extension: machine-to-machine client credentials (no user); Repartee authorises on behalf of a person',
  'auth/cross-app-access-complete-flow': 'extension: enterprise cross-app access (token exchange with an IdP)',
};
