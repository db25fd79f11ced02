import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentSession } from '../agent/session.ts';
import type { ReparteeConfig } from '../config/config.ts';
import { type Assignment, Experiments } from '../config/experiments.ts';
import { AlertEngine } from '../metrics/alerts.ts';
import { ConversationTracer, tracesUrl } from '../metrics/otel.ts';
import { openStore } from '../store/open.ts';
import type { ConversationStore, StoreLog } from '../store/types.ts';
import { Dashboard } from './dashboard.ts';

/**
 * The store, the dashboard, the alert rules, the experiments and the OpenTelemetry tracer of one server, made
 * from the configuration. `repartee serve` uses it; so can an embedding program (and the tests).
 */
export class Observability {
  readonly store: ConversationStore | undefined;
  readonly dashboard: Dashboard | undefined;
  readonly alerts: AlertEngine | undefined;
  readonly experiments: Experiments;
  readonly tracer: ConversationTracer | undefined;
  private loopLag: (() => number) | undefined;

  constructor(
    private readonly config: ReparteeConfig,
    log?: StoreLog,
    /** A store made elsewhere; `random(max)` for the variant draw (a test's fixed sequence). */
    injected: { store?: ConversationStore; random?: (max: number) => number } = {},
  ) {
    this.store = injected.store ?? openStore(config.store, log);
    this.experiments = new Experiments(config.experiments, injected.random);
    this.alerts =
      config.alerts.rules.length > 0
        ? new AlertEngine({ config: config.alerts, log, eventLoopLagMs: () => this.loopLag?.() ?? 0 })
        : undefined;
    const url = tracesUrl(config.otel);
    this.tracer = url
      ? new ConversationTracer({
          url,
          serviceName: config.otel.serviceName,
          headers: config.otel.headers,
          log,
        })
      : undefined;
    this.dashboard = config.dashboard.enabled
      ? new Dashboard({
          store: this.store,
          alerts: this.alerts,
          experiments: config.experiments,
          assignmentOf: (id) => this.experiments.assignmentOf(id),
          recordAudio: config.store.recordAudio,
          pricing: config.dashboard.pricing,
          onTurn: (record) => this.tracer?.turn(record),
        })
      : undefined;
    if (!this.dashboard && this.store) {
      log?.warn({}, 'store: the dashboard is off, so nothing feeds the store');
    }
    this.alerts?.start();
  }

  /** The configuration a new session is built with (its experiment variant applied) and the assignment. */
  sessionConfig(): { config: ReparteeConfig; assignment: Assignment | undefined } {
    return this.experiments.assign(this.config);
  }

  /** After the session is built: its assignment is tied to its id (recorded when the server tracks it). */
  created(session: AgentSession, assignment: Assignment | undefined): void {
    this.experiments.record(session.id, assignment);
  }

  /** The event loop's lag for the `eventLoopLagMs` alert rules (from the running server's /health). */
  watchLoopLag(probe: () => number): void {
    this.loopLag = probe;
  }

  /** What the server calls: `track` for every session, `handle` for /dashboard and /api/dashboard/. */
  readonly serverHooks = {
    track: (session: AgentSession, closed: Promise<void>, transport?: string) => {
      const tracer = this.tracer;
      if (tracer) {
        tracer.sessionStarted(session);
        const off = session.on('toolResult', ({ call, result, durationMs }) =>
          tracer.toolRan(session.id, call.name, session.clock.now(), durationMs, result.isError),
        );
        // Without the dashboard, turns still reach the tracer and the alerts.
        const offTurns = this.dashboard
          ? () => {}
          : session.on('metrics', (record) => {
              this.alerts?.observe(record);
              tracer.turn(record);
            });
        void closed.then(() => {
          off();
          offTurns();
          tracer.sessionEnded(session.id);
        });
      } else if (!this.dashboard && this.alerts) {
        const offTurns = session.on('metrics', (record) => this.alerts?.observe(record));
        void closed.then(offTurns);
      }
      this.dashboard?.track(session, closed, transport);
    },
    handle: async (request: IncomingMessage, response: ServerResponse, url: URL) =>
      this.dashboard ? this.dashboard.handle(request, response, url) : false,
  };

  async close(): Promise<void> {
    await this.alerts?.stop();
    await this.tracer?.close();
    await this.store?.close();
  }
}
