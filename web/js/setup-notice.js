// The first-run notice: shown once, at the top of the page, when the server has no language model. It gives
// the command to run and, only when the server can reach the model host, a button that runs the download with
// a progress bar. It replaces an error per turn: the agent answers each turn with the same spoken notice.

const POLL_MS = 500;

/** Renders the notice into `root` from `GET /api/setup`; `endpoint(path)` adds the page's token. */
export async function showSetupNotice(root, endpoint) {
  let status;
  try {
    const response = await fetch(endpoint('/api/setup'), { cache: 'no-store' });
    // 204: a server without the setup API (embedded in another program), nothing to show.
    if (!response.ok || response.status === 204) return null;
    status = await response.json();
  } catch {
    return null;
  }
  if (status.llm !== null) {
    root.hidden = true;
    return status;
  }
  const text = root.querySelector('.notice-text');
  const command = root.querySelector('.notice-command');
  const button = root.querySelector('.notice-download');
  const progress = root.querySelector('.notice-progress');
  const result = root.querySelector('.notice-result');
  text.textContent = status.notice;
  command.textContent = status.command;
  root.hidden = false;
  root.dataset.online = String(Boolean(status.online));
  button.hidden = !status.online;
  if (status.model) {
    const size = status.model.approxSizeMiB ? `, about ${status.model.approxSizeMiB} MiB` : '';
    button.textContent = `Download ${status.model.name}${size}`;
  }

  const render = (download) => {
    if (!download) return;
    root.dataset.download = download.state;
    if (download.state === 'running') {
      progress.hidden = false;
      button.disabled = true;
      if (download.totalBytes) {
        progress.max = download.totalBytes;
        progress.value = download.receivedBytes;
      } else progress.removeAttribute('value');
      result.textContent = `${(download.receivedBytes / 1048576).toFixed(0)} MiB downloaded…`;
    } else if (download.state === 'done') {
      progress.hidden = false;
      progress.max = 1;
      progress.value = 1;
      button.hidden = true;
      result.textContent = `Downloaded to ${download.path}. Restart repartee serve to talk with it.`;
    } else if (download.state === 'failed') {
      progress.hidden = true;
      button.disabled = false;
      result.textContent = `The download failed: ${download.error}. Try again, or run the command.`;
    }
  };
  const poll = async () => {
    for (;;) {
      const response = await fetch(endpoint('/api/setup'), { cache: 'no-store' }).catch(() => null);
      const next = response?.ok ? await response.json() : null;
      render(next?.download);
      if (next?.download?.state !== 'running') return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };
  button.onclick = async () => {
    button.disabled = true;
    const response = await fetch(endpoint('/api/setup/pull'), { method: 'POST' }).catch(() => null);
    const body = response ? await response.json().catch(() => ({})) : {};
    if (!response || (response.status !== 202 && response.status !== 200)) {
      button.disabled = false;
      result.textContent = body.error ?? 'The server could not start the download.';
      return;
    }
    render(body.download);
    void poll();
  };
  render(status.download);
  if (status.download?.state === 'running') void poll();
  return status;
}
