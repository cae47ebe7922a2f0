//! The task registry: functions registered by name, with serde arguments and results, that
//! the master and the workers (the same program) both build in the same way.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Display;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Once};

/// How one task call ended on a worker: its encoded result, or `(panicked, message)`.
pub(crate) type Outcome = std::result::Result<Vec<u8>, (bool, String)>;

type Runner = Arc<dyn Fn(&[u8]) -> Outcome + Send + Sync>;

/// Functions that pool workers can run, each under a name (mpi4py ships pickled functions;
/// Rust cannot send code, so both sides register the same functions and send names).
///
/// Build it the same way in every process (one function called at the start of `main` does
/// that); a [`Pool`](super::Pool) checks at start-up that its workers registered the same names
/// in the same order.
///
/// ```
/// use mpi4rs::futures::Registry;
/// let mut tasks = Registry::new();
/// let square = tasks.register("square", |x: u64| x * x)?;
/// let parse = tasks.register_fallible("parse", |s: String| s.parse::<i32>())?;
/// let add = tasks.register("add", |(a, b): (i64, i64)| a + b)?;   // several arguments: a tuple
/// assert_eq!(tasks.names(), ["square", "parse", "add"]);
/// assert_eq!(square.name(), "square");
/// # let _ = (parse, add);
/// # Ok::<(), mpi4rs::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    names: Vec<String>,
    runners: Vec<Runner>,
    index: HashMap<String, u32>,
}

/// A registered task taking `A` and returning `R`: what [`Pool::submit`](super::Pool::submit)
/// and [`Pool::map`](super::Pool::map) take.
pub struct Task<A, R> {
    pub(crate) index: u32,
    name: Arc<str>,
    _types: PhantomData<fn(A) -> R>,
}

impl<A, R> Clone for Task<A, R> {
    fn clone(&self) -> Self {
        Task { index: self.index, name: self.name.clone(), _types: PhantomData }
    }
}

impl<A, R> std::fmt::Debug for Task<A, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Task({:?})", self.name)
    }
}

impl<A, R> Task<A, R> {
    /// The registered name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn shared_name(&self) -> Arc<str> {
        self.name.clone()
    }
}

/// Encodes a task's argument or result (MessagePack through serde).
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    rmp_serde::to_vec(value).map_err(|e| Error::Encode(e.to_string()))
}

/// Decodes a task's argument or result.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    rmp_serde::from_slice(bytes)
        .map_err(|e| Error::Decode { type_name: std::any::type_name::<T>(), detail: e.to_string() })
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers `f` under `name`. Several arguments are one tuple argument. A name used twice
    /// is an error.
    pub fn register<A, R, F>(&mut self, name: &str, f: F) -> Result<Task<A, R>>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
        F: Fn(A) -> R + Send + Sync + 'static,
    {
        self.register_fallible(name, move |a| Ok::<R, std::convert::Infallible>(f(a)))
    }

    /// Registers a task that can fail: its `Err` reaches the future as
    /// [`Error::Task`](crate::Error::Task) with the error's text.
    pub fn register_fallible<A, R, E, F>(&mut self, name: &str, f: F) -> Result<Task<A, R>>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
        E: Display,
        F: Fn(A) -> std::result::Result<R, E> + Send + Sync + 'static,
    {
        if self.index.contains_key(name) {
            return Err(Error::InvalidArgument(format!("a task named {name:?} is already registered")));
        }
        let index =
            u32::try_from(self.names.len()).map_err(|_| Error::InvalidArgument("too many tasks".into()))?;
        let runner: Runner = Arc::new(move |bytes: &[u8]| {
            let arg: A = decode(bytes).map_err(|e| (false, e.to_string()))?;
            match f(arg) {
                Ok(r) => encode(&r).map_err(|e| (false, e.to_string())),
                Err(e) => Err((false, e.to_string())),
            }
        });
        self.names.push(name.to_string());
        self.runners.push(runner);
        self.index.insert(name.to_string(), index);
        Ok(Task { index, name: name.into(), _types: PhantomData })
    }

    /// The task registered under `name`, typed as the caller says (a wrong `A` or `R` shows up
    /// as a decoding error of each call).
    pub fn task<A, R>(&self, name: &str) -> Option<Task<A, R>> {
        self.index.get(name).map(|&index| Task { index, name: name.into(), _types: PhantomData })
    }

    /// The registered names, in registration order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Runs task `index` on an encoded argument. A panic is caught and becomes the outcome
    /// (its message and place), so the caller stays alive.
    pub(crate) fn run(&self, index: u32, arg: &[u8]) -> Outcome {
        let Some(runner) = self.runners.get(index as usize) else {
            return Err((false, format!("no task number {index} in this process's registry")));
        };
        install_panic_capture();
        IN_TASK.with(|t| *t.borrow_mut() = Some(String::new()));
        let result = catch_unwind(AssertUnwindSafe(|| runner(arg)));
        let captured = IN_TASK.with(|t| t.borrow_mut().take()).unwrap_or_default();
        result.unwrap_or_else(|payload| {
            Err((true, if captured.is_empty() { panic_text(&*payload) } else { captured }))
        })
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("names", &self.names).finish()
    }
}

/// The text of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "a panic with a non-text payload".into(),
    }
}

thread_local! {
    /// `Some` while this thread runs a task: the panic hook stores the panic's message there
    /// instead of printing it and aborting the job.
    static IN_TASK: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Wraps the panic hook (mpi4rs's own aborts the MPI job on a panic) once per process: a panic
/// inside a task is recorded for the future instead.
fn install_panic_capture() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_task = IN_TASK.with(|t| {
                let mut t = t.borrow_mut();
                if let Some(slot) = t.as_mut() {
                    let place =
                        info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                    *slot = format!("{}{place}", panic_text(info.payload()));
                    true
                } else {
                    false
                }
            });
            if !in_task {
                previous(info);
            }
        }));
    });
}
