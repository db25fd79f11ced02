/**
 * A client in its own process, so the suite can make it vanish the way real ones do: killed (the kernel closes
 * its socket) or frozen (SIGSTOP: no FIN, no reads, no pongs, as a peer behind a dead network path). It opens a
 * session, asks for a story and tells its parent (IPC) when the agent's audio starts flowing.
 *   node --import tsx vanishing-client.ts <ws-url>
 */
import { openClient } from './clients.ts';

const url = process.argv[2];
if (!url || !process.send) {
  process.stderr.write('usage: forked with IPC, argument: the /ws URL\n');
  process.exit(2);
}
const client = openClient(url);
client.ready.then(
  () => {
    client.ws.send(JSON.stringify({ type: 'text', text: 'Hello, tell me a story please.' }));
    process.send?.({ type: 'ready' });
  },
  (error: Error) => process.send?.({ type: 'failed', message: error.message }),
);
void client.firstAudio.then(() => process.send?.({ type: 'audio' }));
void client.closed.then(({ code }) => process.send?.({ type: 'closed', code }));
