import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { StateMachine } from 'aws-local-stepfunctions';

/**
 * Step Functions for the local runtime: the product's state machine definitions (the same JSON
 * the stack deploys) run by aws-local-stepfunctions, behind a loopback endpoint that speaks the
 * part of the Step Functions API the functions use (StartExecution, DescribeExecution,
 * StopExecution, ListExecutions), answering as AWS does, so handlers call it with the real
 * @aws-sdk/client-sfn. Executions live in memory: a restart forgets them, as a lost execution
 * would be forgotten, and the sweeper re-drives what they left.
 */
export interface LocalStateMachine {
  arn: string;
  /** ASL with every placeholder already substituted. */
  definition: object;
  /** Task state name → what runs in place of its Lambda: gets the state's effective input. */
  tasks: Record<string, (input: unknown) => Promise<unknown>>;
  /** Wait state name → milliseconds (e.g. the scrub delay, shortened in tests). */
  waits?: Record<string, number>;
  /** State name → milliseconds between retries, in place of the definition's IntervalSeconds (tests). */
  retryIntervals?: Record<string, number>;
}

interface Execution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  startDate: number;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  done: Promise<void>;
  abort: () => void;
}

export interface LocalStepFunctions {
  endpoint: string;
  /** Resolves when no execution is running. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startLocalStepFunctions(machines: LocalStateMachine[]): Promise<LocalStepFunctions> {
  const byArn = new Map(machines.map((m) => [m.arn, { machine: m, runner: new StateMachine(m.definition as never, { validationOptions: { checkArn: false } }) }]));
  const executions = new Map<string, Execution>();

  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    StartExecution: (body) => {
      const entry = byArn.get(String(body.stateMachineArn));
      if (!entry) throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${String(body.stateMachineArn)}'`);
      const name = typeof body.name === 'string' ? body.name : randomUUID();
      const input = typeof body.input === 'string' ? body.input : '{}';
      const executionArn = `${entry.machine.arn.replace(':stateMachine:', ':execution:')}:${name}`;
      const existing = executions.get(executionArn);
      if (existing) {
        // As in AWS: the same name and input while it runs is the same execution; once it has
        // ended (or with another input) the name is taken (for 90 days in AWS).
        if (existing.input === input && existing.status === 'RUNNING') return { executionArn, startDate: existing.startDate };
        throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      }
      const run = entry.runner.run(JSON.parse(input), {
        overrides: {
          taskResourceLocalHandlers: entry.machine.tasks as never,
          waitTimeOverrides: entry.machine.waits,
          retryIntervalOverrides: entry.machine.retryIntervals,
        },
        noThrowOnAbort: true,
      });
      const execution: Execution = {
        executionArn,
        stateMachineArn: entry.machine.arn,
        name,
        input,
        status: 'RUNNING',
        startDate: Date.now() / 1000,
        abort: run.abort,
        done: Promise.resolve(),
      };
      execution.done = run.result.then(
        (output: unknown) => {
          if (execution.status === 'RUNNING') execution.status = output === null ? 'ABORTED' : 'SUCCEEDED';
          execution.output = JSON.stringify(output);
          execution.stopDate = Date.now() / 1000;
        },
        (error: Error & { cause?: unknown }) => {
          execution.status = 'FAILED';
          execution.error = error.name;
          execution.cause = error.message;
          execution.stopDate = Date.now() / 1000;
          console.error(JSON.stringify({ level: 'error', message: 'execution failed', executionArn, error: error.name, cause: error.message }));
        },
      );
      executions.set(executionArn, execution);
      return { executionArn, startDate: execution.startDate };
    },
    DescribeExecution: (body) => {
      const execution = executions.get(String(body.executionArn));
      if (!execution) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(body.executionArn)}'`);
      const { done: _done, abort: _abort, ...view } = execution;
      return view;
    },
    ListExecutions: (body) => {
      const stateMachineArn = String(body.stateMachineArn);
      if (!byArn.has(stateMachineArn)) throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
      const maxResults = body.maxResults === undefined || body.maxResults === 0 ? 100 : Number(body.maxResults);
      if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > 1000) {
        throw new ApiError('ValidationException', `1 validation error detected: Value '${String(body.maxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000`);
      }
      // Newest first, as AWS lists them; the token is the position of the next page.
      const matching = [...executions.values()]
        .filter((e) => e.stateMachineArn === stateMachineArn && (body.statusFilter === undefined || e.status === body.statusFilter))
        .sort((a, b) => b.startDate - a.startDate);
      const from = body.nextToken === undefined ? 0 : Number(body.nextToken);
      if (!Number.isInteger(from) || from < 0 || from > matching.length) throw new ApiError('InvalidToken', `Invalid Token: '${String(body.nextToken)}'`);
      const page = matching.slice(from, from + maxResults).map((e) => ({
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: e.startDate,
        ...(e.stopDate === undefined ? {} : { stopDate: e.stopDate }),
      }));
      return { executions: page, ...(from + maxResults < matching.length ? { nextToken: String(from + maxResults) } : {}) };
    },
    StopExecution: (body) => {
      const execution = executions.get(String(body.executionArn));
      if (!execution) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(body.executionArn)}'`);
      if (execution.status === 'RUNNING') {
        execution.status = 'ABORTED';
        execution.abort();
      }
      return { stopDate: Date.now() / 1000 };
    },
  };

  const server = createServer((req, res) => void serve(req, res));
  async function serve(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify(body));
    };
    try {
      const operation = operations[target];
      if (!operation) throw new ApiError('UnknownOperationException', `Operation ${target} is not emulated locally`);
      reply(200, operation(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')));
    } catch (error) {
      if (error instanceof ApiError) reply(400, { __type: error.type, message: error.message });
      else reply(500, { __type: 'InternalFailure', message: String(error) });
    }
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    idle: async () => {
      for (;;) {
        const running = [...executions.values()].filter((e) => e.status === 'RUNNING');
        if (running.length === 0) return;
        await Promise.all(running.map((e) => e.done));
      }
    },
    stop: async () => {
      for (const execution of executions.values()) if (execution.status === 'RUNNING') execution.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
