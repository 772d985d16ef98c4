//! The interpreter: one `QuickJS` runtime per run, on the calling thread.
//!
//! Nothing is exposed to the script but the ECMAScript built-ins and a
//! `console` whose output is captured: no module loader (so `import` finds
//! nothing), no `std`/`os` modules, no timers, no `performance` clock, no
//! network or file objects. Limits are enforced by the engine itself: the
//! runtime's allocator refuses memory beyond the limit, and the interrupt
//! handler (called by the interpreter every few thousand operations, also
//! inside long regular-expression matches) stops the script once its thread
//! has used its CPU time, once the wall clock runs out, or once the output
//! budget is spent. An interrupt is uncatchable: `try`/`catch` in the script
//! cannot swallow it.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use rquickjs::context::intrinsic;
use rquickjs::function::Rest;
use rquickjs::{CatchResultExt, CaughtError, Context, Ctx, Function, Object, Runtime, Value};
use serde::Serialize;

/// The name scripts are compiled under; it appears in stack traces.
pub const SCRIPT_NAME: &str = "tool.js";

/// How many bytes of a JS stack trace are kept in an error.
const MAX_STACK_BYTES: usize = 2_000;

/// The limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU time of the interpreter thread.
    pub cpu: Duration,
    /// Wall-clock time of the run (catches a script starved of CPU by a busy machine).
    pub wall: Duration,
    /// Memory the JS heap may allocate.
    pub memory_bytes: usize,
    /// The JSON result plus every log line, in bytes.
    pub output_bytes: usize,
}

/// The console method a line was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    Info,
    Log,
    Warn,
    Error,
}

/// One line written with `console.log` (or `info`, `warn`, `error`, `debug`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// What a successful run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// What `main` returned (or its promise resolved to), as JSON; `null` for `undefined`.
    pub result: serde_json::Value,
    pub logs: Vec<LogLine>,
    /// CPU time the run used.
    pub cpu: Duration,
    /// Wall-clock time of the run.
    pub wall: Duration,
    /// JS heap in use when the run ended.
    pub memory_bytes: usize,
}

/// Which time limit stopped a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeLimit {
    Cpu,
    Wall,
}

/// Why a run failed. Each variant has its own error code (`src/error.rs`);
/// the logs written before the failure are kept so a test-run can show them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SandboxError {
    /// The script used up its CPU or wall-clock time.
    #[error("the script ran longer than its {} limit of {limit_ms} ms", match limit { TimeLimit::Cpu => "CPU time", TimeLimit::Wall => "wall-clock" })]
    Timeout { limit: TimeLimit, limit_ms: u64, logs: Vec<LogLine> },
    /// The script allocated more memory than its limit.
    #[error("the script needed more than its memory limit of {limit_bytes} bytes")]
    MemoryExceeded { limit_bytes: usize, logs: Vec<LogLine> },
    /// The result plus the logs exceed the output limit.
    #[error("the script's result and logs exceed the output limit of {limit_bytes} bytes")]
    OutputTooLarge { limit_bytes: usize, logs: Vec<LogLine> },
    /// The script does not compile, threw, has no `main`, or returned something that is not JSON.
    #[error("{name}: {message}")]
    Script {
        /// The JS error's name (`SyntaxError`, `TypeError`, `ReferenceError`, `Error`, …).
        name: String,
        message: String,
        /// 1-based line in the script, when the engine reports one.
        line: Option<u32>,
        column: Option<u32>,
        /// The JS stack trace, shortened.
        stack: Option<String>,
        logs: Vec<LogLine>,
    },
    /// Every sandbox slot stayed busy for as long as the run could have lasted.
    #[error("every sandbox is busy; retry shortly")]
    Busy,
    /// The engine itself failed (e.g. no thread could be started).
    #[error("sandbox failure: {0}")]
    Internal(String),
}

const STOP_NONE: u8 = 0;
const STOP_CPU: u8 = 1;
const STOP_WALL: u8 = 2;
const STOP_OUTPUT: u8 = 3;

/// The CPU time the calling thread has used so far.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), u32::try_from(t.tv_nsec).unwrap_or(0))
}

/// Captured console output and what is left of the output budget.
struct Console {
    logs: Vec<LogLine>,
    used: usize,
    budget: usize,
    stop: Arc<AtomicU8>,
}

fn new_context(runtime: &Runtime) -> Result<Context, SandboxError> {
    // No `Performance` (a high-resolution clock) and no `DOMException`; the
    // rest is plain ECMAScript.
    type Intrinsics = (
        intrinsic::Date,
        intrinsic::Eval,
        intrinsic::RegExpCompiler,
        intrinsic::RegExp,
        intrinsic::Json,
        intrinsic::Proxy,
        intrinsic::MapSet,
        intrinsic::TypedArrays,
        intrinsic::Promise,
        intrinsic::WeakRef,
    );
    Context::custom::<Intrinsics>(runtime).map_err(|e| SandboxError::Internal(e.to_string()))
}

/// Runs `source` on the calling thread: the script must define
/// `function main(args)` (it may be `async`); `main` is called with `input`
/// and what it returns (or resolves to) is the result, as JSON.
///
/// This blocks for up to `limits.wall`; async callers go through
/// [`super::Sandbox::run`], which runs it on a dedicated thread.
pub fn run(source: &str, input: &serde_json::Value, limits: &Limits) -> Result<Output, SandboxError> {
    run_inner(source, input, limits)
}

/// Compiles `source` without running any of it: what a code tool's
/// configuration is checked with (a syntax error comes back with its line).
///
/// Cheap and bounded by the source size, so it may run on the caller's
/// thread. The script is compiled as a whole and then stopped by a `throw`
/// placed before its first statement (same line, so lines stay right);
/// function declarations are hoisted, nothing of the user's code runs. A
/// leading `"use strict"` directive is not one behind that statement, so
/// strict-mode-only syntax errors show at the first run instead.
pub fn compile(source: &str) -> Result<(), SandboxError> {
    const STOP: &str = "throw null;";
    let runtime = Runtime::new().map_err(|e| SandboxError::Internal(e.to_string()))?;
    let memory_bytes = 64 * 1024 * 1024;
    runtime.set_memory_limit(memory_bytes);
    runtime.set_max_stack_size(256 * 1024);
    let context = new_context(&runtime)?;
    context.with(|ctx| {
        let mut options = rquickjs::context::EvalOptions::default();
        options.global = true;
        options.strict = false;
        options.filename = Some(SCRIPT_NAME.to_owned());
        match ctx.eval_with_options::<Value, _>(format!("{STOP}{source}"), options).catch(&ctx) {
            Err(CaughtError::Value(v)) if v.is_null() => Ok(()),
            Ok(_) => Ok(()),
            Err(caught) => match script_error(caught) {
                Some(SandboxError::Script { name, message, line, column, stack, logs }) => {
                    // The stop statement shares line 1 with the script.
                    let column = match line {
                        Some(1) => column.map(|c| c.saturating_sub(u32::try_from(STOP.len()).unwrap_or(0))),
                        _ => column,
                    };
                    Err(SandboxError::Script { name, message, line, column, stack, logs })
                }
                Some(other) => Err(other),
                None => Err(memory_error(memory_bytes)),
            },
        }
    })
}

fn run_inner(source: &str, input: &serde_json::Value, limits: &Limits) -> Result<Output, SandboxError> {
    let started = Instant::now();
    let cpu_start = thread_cpu();
    let runtime = Runtime::new().map_err(|e| SandboxError::Internal(e.to_string()))?;
    runtime.set_memory_limit(limits.memory_bytes);
    // The interpreter thread has an 8 MiB stack (see `Sandbox::run`); deep
    // recursion becomes a RangeError long before it.
    runtime.set_max_stack_size(1024 * 1024);
    let stop = Arc::new(AtomicU8::new(STOP_NONE));
    {
        let stop = stop.clone();
        let (cpu_limit, deadline) = (limits.cpu, started + limits.wall);
        runtime.set_interrupt_handler(Some(Box::new(move || {
            if stop.load(Ordering::Relaxed) != STOP_NONE {
                return true;
            }
            let reason = if Instant::now() >= deadline {
                STOP_WALL
            } else if thread_cpu().saturating_sub(cpu_start) >= cpu_limit {
                STOP_CPU
            } else {
                return false;
            };
            stop.store(reason, Ordering::Relaxed);
            true
        })));
    }
    let context = new_context(&runtime)?;
    let console =
        Rc::new(RefCell::new(Console { logs: Vec::new(), used: 0, budget: limits.output_bytes, stop: stop.clone() }));
    let outcome = context.with(|ctx| execute(&ctx, source, input, &console, limits));
    let memory_bytes = usize::try_from(runtime.memory_usage().memory_used_size).unwrap_or(0);
    drop(context);
    let logs = std::mem::take(&mut console.borrow_mut().logs);
    let stopped = match stop.load(Ordering::Relaxed) {
        STOP_CPU => {
            Some(SandboxError::Timeout { limit: TimeLimit::Cpu, limit_ms: millis(limits.cpu), logs: Vec::new() })
        }
        STOP_WALL => {
            Some(SandboxError::Timeout { limit: TimeLimit::Wall, limit_ms: millis(limits.wall), logs: Vec::new() })
        }
        STOP_OUTPUT => Some(SandboxError::OutputTooLarge { limit_bytes: limits.output_bytes, logs: Vec::new() }),
        _ => None,
    };
    // A stop decided by the interrupt handler wins over whatever exception
    // it surfaced as.
    match (stopped, outcome) {
        (Some(error), _) | (None, Err(error)) => Err(with_logs(error, logs)),
        (None, Ok(result)) => Ok(Output {
            result,
            logs,
            cpu: thread_cpu().saturating_sub(cpu_start),
            wall: started.elapsed(),
            memory_bytes,
        }),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn with_logs(error: SandboxError, captured: Vec<LogLine>) -> SandboxError {
    match error {
        SandboxError::Timeout { limit, limit_ms, .. } => SandboxError::Timeout { limit, limit_ms, logs: captured },
        SandboxError::MemoryExceeded { limit_bytes, .. } => {
            SandboxError::MemoryExceeded { limit_bytes, logs: captured }
        }
        SandboxError::OutputTooLarge { limit_bytes, .. } => {
            SandboxError::OutputTooLarge { limit_bytes, logs: captured }
        }
        SandboxError::Script { name, message, line, column, stack, .. } => {
            SandboxError::Script { name, message, line, column, stack, logs: captured }
        }
        other @ (SandboxError::Busy | SandboxError::Internal(_)) => other,
    }
}

fn memory_error(limit_bytes: usize) -> SandboxError {
    SandboxError::MemoryExceeded { limit_bytes, logs: Vec::new() }
}

/// Compiles and runs the script inside the context; returns the JSON result.
fn execute<'js>(
    ctx: &Ctx<'js>,
    source: &str,
    input: &serde_json::Value,
    console: &Rc<RefCell<Console>>,
    limits: &Limits,
) -> Result<serde_json::Value, SandboxError> {
    let fail = |caught: CaughtError<'js>| script_error(caught).unwrap_or_else(|| memory_error(limits.memory_bytes));
    install_console(ctx, console).catch(ctx).map_err(fail)?;
    let options = {
        let mut o = rquickjs::context::EvalOptions::default();
        o.global = true;
        o.strict = false;
        o.filename = Some(SCRIPT_NAME.to_owned());
        o
    };
    ctx.eval_with_options::<Value, _>(source, options).catch(ctx).map_err(fail)?;
    let main: Value = ctx.globals().get("main").catch(ctx).map_err(fail)?;
    let Some(main) = main.into_function() else {
        return Err(SandboxError::Script {
            name: "Error".to_owned(),
            message: "the code must define `function main(args)` (it may be `async`)".to_owned(),
            line: None,
            column: None,
            stack: None,
            logs: Vec::new(),
        });
    };
    let input_json = serde_json::to_string(input).map_err(|e| SandboxError::Internal(e.to_string()))?;
    let args = ctx.json_parse(input_json).catch(ctx).map_err(fail)?;
    let mut value: Value = main.call((args,)).catch(ctx).map_err(fail)?;
    if let Some(promise) = value.as_promise().cloned() {
        // Run the job queue until the promise settles. There are no timers
        // or I/O, so a promise still pending when the queue is empty never
        // settles.
        value = match promise.finish::<Value>() {
            Err(rquickjs::Error::WouldBlock) => {
                return Err(SandboxError::Script {
                    name: "Error".to_owned(),
                    message: "main's promise never settles (there are no timers or I/O in the sandbox)".to_owned(),
                    line: None,
                    column: None,
                    stack: None,
                    logs: Vec::new(),
                });
            }
            other => other.catch(ctx).map_err(fail)?,
        };
    }
    if value.is_undefined() {
        return Ok(serde_json::Value::Null);
    }
    let text = ctx.json_stringify(value).catch(ctx).map_err(fail)?;
    let Some(text) = text else { return Ok(serde_json::Value::Null) };
    let text = text.to_string().map_err(|e| SandboxError::Internal(e.to_string()))?;
    let used = console.borrow().used;
    if used.saturating_add(text.len()) > limits.output_bytes {
        return Err(SandboxError::OutputTooLarge { limit_bytes: limits.output_bytes, logs: Vec::new() });
    }
    serde_json::from_str(&text).map_err(|e| SandboxError::Internal(format!("JSON from the engine: {e}")))
}

/// `console.log/info/warn/error/debug`, writing into the captured logs.
fn install_console<'js>(ctx: &Ctx<'js>, console: &Rc<RefCell<Console>>) -> rquickjs::Result<()> {
    let object = Object::new(ctx.clone())?;
    for (name, level) in [
        ("log", LogLevel::Log),
        ("info", LogLevel::Info),
        ("warn", LogLevel::Warn),
        ("error", LogLevel::Error),
        ("debug", LogLevel::Debug),
    ] {
        let console = console.clone();
        let write = Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<Value<'js>>| -> rquickjs::Result<()> {
            let mut parts = Vec::with_capacity(args.0.len());
            for arg in args.0 {
                parts.push(display(&ctx, arg)?);
            }
            let message = parts.join(" ");
            let mut console = console.borrow_mut();
            let size = message.len() + 1;
            if console.used.saturating_add(size) > console.budget {
                // The interrupt handler stops the script at its next check;
                // the exception stops this statement now.
                console.stop.store(STOP_OUTPUT, Ordering::Relaxed);
                return Err(rquickjs::Exception::throw_internal(&ctx, "output limit exceeded"));
            }
            console.used += size;
            console.logs.push(LogLine { level, message });
            Ok(())
        })?;
        object.set(name, write)?;
    }
    ctx.globals().set("console", object)
}

/// How `console.log` shows a value: strings as they are, other values as JSON
/// where that works, else as `String(value)`.
fn display<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<String> {
    if let Some(s) = value.as_string() {
        return s.to_string();
    }
    if value.is_undefined() {
        return Ok("undefined".to_owned());
    }
    if value.is_function() || value.is_symbol() || value.is_big_int() || value.is_error() {
        return coerce(ctx, value);
    }
    match ctx.json_stringify(value.clone()) {
        Ok(Some(s)) => s.to_string(),
        Ok(None) => coerce(ctx, value),
        // A cycle or a BigInt inside: fall back to String(value).
        Err(rquickjs::Error::Exception) => {
            let _ = ctx.catch();
            coerce(ctx, value)
        }
        Err(e) => Err(e),
    }
}

fn coerce<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<String> {
    let string: Function = ctx.globals().get("String")?;
    string.call::<_, rquickjs::String>((value,))?.to_string()
}

/// Turns an exception into a [`SandboxError::Script`], or `None` when it
/// is the engine's out-of-memory error.
fn script_error(caught: CaughtError<'_>) -> Option<SandboxError> {
    let logs = Vec::new();
    match caught {
        CaughtError::Exception(exception) => {
            let message = exception.message().unwrap_or_default();
            let object = exception.as_object();
            let name: String = object.get("name").unwrap_or_else(|_| "Error".to_owned());
            if name == "InternalError" && message == "out of memory" {
                return None;
            }
            let stack = exception.stack();
            let (line, column) = stack.as_deref().and_then(position).unzip();
            let stack = stack.map(|s| truncate(s.trim_end(), MAX_STACK_BYTES));
            Some(SandboxError::Script { name, message, line, column, stack, logs })
        }
        CaughtError::Value(value) => {
            let message = if let Some(s) = value.as_string() {
                s.to_string().unwrap_or_default()
            } else {
                display(value.ctx(), value.clone()).unwrap_or_default()
            };
            Some(SandboxError::Script {
                name: "Error".to_owned(),
                message: format!("uncaught value: {message}"),
                line: None,
                column: None,
                stack: None,
                logs,
            })
        }
        CaughtError::Error(rquickjs::Error::Allocation) => None,
        CaughtError::Error(error) => Some(SandboxError::Script {
            name: "Error".to_owned(),
            message: error.to_string(),
            line: None,
            column: None,
            stack: None,
            logs,
        }),
    }
}

/// The first `tool.js:LINE:COLUMN` of a stack trace: where the error was raised.
fn position(stack: &str) -> Option<(u32, u32)> {
    let pattern = format!("{SCRIPT_NAME}:");
    let at = stack.find(&pattern)? + pattern.len();
    let mut parts = stack[at..].split(|c: char| !c.is_ascii_digit());
    let line = parts.next()?.parse().ok()?;
    let column = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    Some((line, column))
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
