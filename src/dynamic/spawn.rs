//! Starting processes: `MPI_Comm_spawn` and `MPI_Comm_spawn_multiple`.

use super::{agree_at_root, c_string};
use crate::comm::{Comm, Communicator};
use crate::error::{error_string, Error, Result};
use crate::ffi;
use crate::info::Info;
use crate::intercomm::InterComm;
use std::ffi::{c_char, c_int, CString};
use std::path::Path;

/// One program for [`Comm::spawn_multiple`]: command, arguments, number of processes, hints.
///
/// ```
/// use mpi4rs::dynamic::SpawnCommand;
/// let worker = SpawnCommand::new("./worker").args(["--fast"]).maxprocs(2);
/// assert_eq!(worker.command(), "./worker");
/// ```
#[derive(Debug)]
pub struct SpawnCommand {
    command: String,
    args: Vec<String>,
    maxprocs: i32,
    info: Option<Info>,
}

impl SpawnCommand {
    /// `command` (a path, or a name the launcher finds), one process, no arguments or hints.
    pub fn new(command: impl Into<String>) -> SpawnCommand {
        SpawnCommand { command: command.into(), args: Vec::new(), maxprocs: 1, info: None }
    }

    /// Appends arguments (the program's `argv[1..]`).
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> SpawnCommand {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// How many processes to start (at least 1).
    pub fn maxprocs(mut self, n: i32) -> SpawnCommand {
        self.maxprocs = n;
        self
    }

    /// Hints for the launcher (`host`, `wdir`, `path`, … as the MPI library documents them).
    pub fn info(mut self, info: Info) -> SpawnCommand {
        self.info = Some(info);
        self
    }

    /// The command.
    pub fn command(&self) -> &str {
        &self.command
    }
}

/// A command's strings as C strings, checked.
struct CCommand {
    command: CString,
    args: Vec<CString>,
}

/// Whether `path` is a file someone may execute and the OS can run: an execute bit, and an
/// ELF image or a `#!` script. (A 0755 text file passes the mode check, then `execve` fails
/// with "Exec format error", which ends an Open MPI job.) A file that cannot be read is given
/// the benefit of the doubt: execute-only programs exist.
fn is_executable(path: &Path) -> bool {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let mode_ok = path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if !mode_ok {
        return false;
    }
    let Ok(mut file) = std::fs::File::open(path) else { return true };
    let mut head = [0u8; 4];
    let n = file.read(&mut head).unwrap_or(0);
    head[..n].starts_with(b"\x7fELF") || head[..n].starts_with(b"#!")
}

/// Refuses a program this process can tell will not start: Open MPI's launcher ends the whole
/// job (the parent too) when a spawned executable is missing, so that is checked here first.
/// A name without `/` is looked up on `PATH`; hints that change where the launcher looks
/// (`wdir` for a relative path, `path` for a bare name) switch the check off.
fn check_program(command: &str, info: Option<&Info>) -> Result<()> {
    let hint = |key: &str| info.is_some_and(|i| i.get(key).ok().flatten().is_some());
    let found = if command.contains('/') {
        (!command.starts_with('/') && hint("wdir")) || is_executable(Path::new(command))
    } else {
        hint("path")
            || std::env::var_os("PATH")
                .is_some_and(|p| std::env::split_paths(&p).any(|d| is_executable(&d.join(command))))
    };
    if found {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "spawn: {command:?} is not an executable file{} (an ELF program or a #! script with an execute bit; checked before spawning: a launcher may end the whole job when it cannot start a program)",
            if command.contains('/') { "" } else { " on PATH" }
        )))
    }
}

impl CCommand {
    fn new(cmd: &SpawnCommand, info: Option<&Info>) -> Result<CCommand> {
        if cmd.command.is_empty() {
            return Err(Error::InvalidArgument("spawn: the command is empty".into()));
        }
        if cmd.maxprocs < 1 {
            return Err(Error::InvalidArgument(format!(
                "spawn: maxprocs is {} for {:?}; at least 1 process is needed",
                cmd.maxprocs, cmd.command
            )));
        }
        let command = c_string("a spawn command", &cmd.command, None)?;
        check_program(&cmd.command, info)?;
        let args = cmd.args.iter().map(|a| c_string("a spawn argument", a, None)).collect::<Result<_>>()?;
        Ok(CCommand { command, args })
    }

    /// A NULL-terminated `argv` pointing into `self`.
    fn argv(&self) -> Vec<*mut c_char> {
        self.args.iter().map(|a| a.as_ptr().cast_mut()).chain(std::iter::once(std::ptr::null_mut())).collect()
    }
}

/// The error of a failed spawn, with the first failing process's error code in words.
fn spawn_error(call: &'static str, code: c_int, errcodes: &[c_int]) -> Error {
    let mut err = Error::from_code(call, code);
    if let (Error::Mpi { message, .. }, Some(&first)) =
        (&mut err, errcodes.iter().find(|&&c| c != crate::error::SUCCESS))
    {
        message.push_str(&format!(" (first process error: {})", error_string(first)));
    }
    err
}

impl Comm {
    /// Starts `maxprocs` processes of `command args…` and returns an intercommunicator whose
    /// remote group is them (`MPI_Comm_spawn`); collective over this communicator. `command`,
    /// `args`, `maxprocs` and `info` are read at `root` only. In the children,
    /// [`get_parent`](crate::dynamic::get_parent) returns the other side.
    ///
    /// A launcher that cannot spawn, a command that does not exist or more processes than
    /// the launcher allows are `Err` where the MPI library reports them (see the
    /// [module documentation](crate::dynamic)).
    pub fn spawn(
        &self,
        command: &str,
        args: &[&str],
        maxprocs: i32,
        info: Option<&Info>,
        root: i32,
    ) -> Result<InterComm> {
        let cmd = SpawnCommand::new(command).args(args.iter().copied()).maxprocs(maxprocs);
        let total = agree_at_root(self, root, || CCommand::new(&cmd, info).map(|_| maxprocs))?;
        let mut errcodes = vec![0 as c_int; total as usize];
        let mut raw = ffi::COMM_NULL();
        let _call = crate::error::require_not_finalized()?;
        let code = if self.rank() == root {
            let c = CCommand::new(&cmd, info)?;
            let mut argv = c.argv();
            // SAFETY: the strings and argv outlive the call; errcodes holds maxprocs entries.
            unsafe {
                ffi::MPI_Comm_spawn(
                    c.command.as_ptr(),
                    argv.as_mut_ptr(),
                    maxprocs,
                    Info::raw_or_null(info),
                    root,
                    self.as_raw(),
                    &mut raw,
                    errcodes.as_mut_ptr(),
                )
            }
        } else {
            let empty = CString::default();
            // SAFETY: non-root processes pass arguments MPI ignores; errcodes holds the
            // root's maxprocs entries (MPICH broadcasts them).
            unsafe {
                ffi::MPI_Comm_spawn(
                    empty.as_ptr(),
                    std::ptr::null_mut(),
                    0,
                    ffi::INFO_NULL(),
                    root,
                    self.as_raw(),
                    &mut raw,
                    errcodes.as_mut_ptr(),
                )
            }
        };
        if code != crate::error::SUCCESS {
            return Err(spawn_error("MPI_Comm_spawn", code, &errcodes));
        }
        InterComm::adopt(raw)
    }

    /// Starts several programs at once, in one remote group ordered as `commands`
    /// (`MPI_Comm_spawn_multiple`; an MPMD job). Read at `root` only.
    pub fn spawn_multiple(&self, commands: &[SpawnCommand], root: i32) -> Result<InterComm> {
        let total = agree_at_root(self, root, || {
            if commands.is_empty() {
                return Err(Error::InvalidArgument("spawn_multiple: no commands".into()));
            }
            let mut total: i32 = 0;
            for c in commands {
                CCommand::new(c, c.info.as_ref())?;
                total = total.checked_add(c.maxprocs).ok_or_else(|| {
                    Error::InvalidArgument("spawn_multiple: the process counts overflow an int".into())
                })?;
            }
            Ok(total)
        })?;
        let mut errcodes = vec![0 as c_int; total as usize];
        let mut raw = ffi::COMM_NULL();
        let _call = crate::error::require_not_finalized()?;
        let code = if self.rank() == root {
            let cs =
                commands.iter().map(|c| CCommand::new(c, c.info.as_ref())).collect::<Result<Vec<_>>>()?;
            let mut names: Vec<*mut c_char> = cs.iter().map(|c| c.command.as_ptr().cast_mut()).collect();
            let mut argvs: Vec<Vec<*mut c_char>> = cs.iter().map(CCommand::argv).collect();
            let mut argv_ptrs: Vec<*mut *mut c_char> = argvs.iter_mut().map(|a| a.as_mut_ptr()).collect();
            let mut maxprocs: Vec<c_int> = commands.iter().map(|c| c.maxprocs).collect();
            let mut infos: Vec<ffi::MPI_Info> =
                commands.iter().map(|c| Info::raw_or_null(c.info.as_ref())).collect();
            // SAFETY: every array has one entry per command and outlives the call.
            unsafe {
                ffi::MPI_Comm_spawn_multiple(
                    commands.len() as c_int,
                    names.as_mut_ptr(),
                    argv_ptrs.as_mut_ptr(),
                    maxprocs.as_mut_ptr(),
                    infos.as_mut_ptr(),
                    root,
                    self.as_raw(),
                    &mut raw,
                    errcodes.as_mut_ptr(),
                )
            }
        } else {
            // SAFETY: non-root processes pass arguments MPI ignores.
            unsafe {
                ffi::MPI_Comm_spawn_multiple(
                    0,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    root,
                    self.as_raw(),
                    &mut raw,
                    errcodes.as_mut_ptr(),
                )
            }
        };
        if code != crate::error::SUCCESS {
            return Err(spawn_error("MPI_Comm_spawn_multiple", code, &errcodes));
        }
        InterComm::adopt(raw)
    }
}
