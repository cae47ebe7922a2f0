//! Dynamic process management: info objects, spawn and spawn-multiple (the test binary spawns
//! copies of itself), parent links, merge and disconnect, ports with accept/connect, the name
//! service, join over a socket, and the errors of each.
//!
//! The jobs that spawn, open ports or join are launcher-side checks: where the MPI library
//! refuses (MPICH built with `ch4:ucx` says "not supported with ucx netmod"), the check
//! reports `skipped:` with the library's own words instead of passing.
mod common;

use common::spawn::{expect, spawn_unsupported, unsupported};
use common::{Suite, SPAWNED_CASE};
use mpi4rs::dynamic::{self, SpawnCommand};
use mpi4rs::prelude::*;
use mpi4rs::{Environment, Error, ErrorClass, Info, Result};

fn main() {
    Suite::new("dynamic")
        .case("info_objects", info_objects)
        .case("argument_errors_on_every_rank", argument_errors_on_every_rank)
        .hidden("spawn_children", spawn_children)
        .case("spawn_missing_program", spawn_missing_program)
        .hidden("ports_and_names", ports_and_names)
        .hidden("join_over_a_socket", join_over_a_socket)
        .check("spawn_bcast_reduce_merge_multiple", |s| expect(s, "spawn_children", &[1, 2], "spawn ok"))
        .check("ports_accept_connect_names", |s| expect(s, "ports_and_names", &[2, 4], "ports ok"))
        .check("join_over_a_socket", |s| expect(s, "join_over_a_socket", &[2], "join ok"))
        .run();
}

fn info_objects(_: &Environment) -> Result<()> {
    let info = Info::from_pairs([("wdir", "/tmp"), ("host", "localhost"), ("mpi4rs_key", "a b=c")])?;
    ensure_eq!(info.len()?, 3);
    ensure_eq!(info.keys()?, ["wdir", "host", "mpi4rs_key"]);
    ensure_eq!(info.get("mpi4rs_key")?, Some("a b=c".to_string()));
    ensure_eq!(info.get("absent")?, None);
    info.set("wdir", "/var")?;
    ensure_eq!(info.get("wdir")?, Some("/var".to_string()));
    let copy = info.dup()?;
    ensure!(info.delete("host")?);
    ensure!(!info.delete("host")?);
    ensure_eq!(info.len()?, 2);
    ensure_eq!(copy.len()?, 3); // the copy keeps its own keys
    ensure_eq!(copy.pairs()?[1], ("host".to_string(), "localhost".to_string()));
    ensure!(Info::new()?.is_empty()?);
    // Errors: too long a key, NUL in a key or value.
    let long = "k".repeat(mpi4rs::ffi::MAX_INFO_KEY() as usize);
    ensure_err!(info.set(&long, "v"), Error::InvalidArgument(_));
    ensure_err!(info.set("a\0b", "v"), Error::InvalidArgument(_));
    ensure_err!(info.set("k", "v\0"), Error::InvalidArgument(_));
    ensure_err!(info.get(&long), Error::InvalidArgument(_));
    // MPI_INFO_ENV can be read (its keys depend on the launcher).
    let env = Info::env()?;
    for key in env.keys()? {
        ensure!(env.get(&key)?.is_some(), "MPI_INFO_ENV lists {key} but has no value");
    }
    Ok(())
}

fn argument_errors_on_every_rank(env: &Environment) -> Result<()> {
    let world = env.world();
    let last = world.size() - 1;
    // The arguments are read at the root only; a bad one there is an error everywhere (and
    // no process is left waiting inside MPI_Comm_spawn).
    let bad_command = if world.rank() == last { "" } else { "/bin/true" };
    ensure_err!(world.spawn(bad_command, &[], 1, None, last), Error::InvalidArgument(_));
    ensure_err!(world.spawn("/bin/true", &[], 0, None, 0), Error::InvalidArgument(_));
    ensure_err!(world.spawn("/bin/true", &["a\0b"], 1, None, 0), Error::InvalidArgument(_));
    ensure_err!(world.spawn("/bin/true", &[], 1, None, world.size()), Error::InvalidRoot { .. });
    ensure_err!(world.spawn_multiple(&[], 0), Error::InvalidArgument(_));
    let cmds = [SpawnCommand::new("/bin/true").maxprocs(1), SpawnCommand::new("/bin/true").maxprocs(-2)];
    ensure_err!(world.spawn_multiple(&cmds, 0), Error::InvalidArgument(_));
    let long_port = "p".repeat(mpi4rs::ffi::MAX_PORT_NAME() as usize);
    ensure_err!(world.accept(&long_port, None, 0), Error::InvalidArgument(_));
    ensure_err!(world.connect("port\0name", None, 0), Error::InvalidArgument(_));
    ensure_err!(world.accept("port", None, -1), Error::InvalidRoot { .. });
    ensure_err!(dynamic::publish_name("", "port", None), Error::InvalidArgument(_));
    ensure_err!(dynamic::lookup_name("a\0b", None), Error::InvalidArgument(_));
    // Not spawned: no parent.
    ensure!(dynamic::get_parent()?.is_none());
    Ok(())
}

/// The parent side spawns copies of this test binary; in them the same function takes the
/// child side (they have a parent).
fn spawn_children(env: &Environment) -> Result<()> {
    match dynamic::get_parent()? {
        Some(parent) => spawned_child(env, parent),
        None => spawning_parent(env),
    }
}

fn own_exe() -> String {
    std::env::current_exe().expect("own path").to_string_lossy().into_owned()
}

fn spawning_parent(env: &Environment) -> Result<()> {
    let world = env.world();
    let (rank, size) = (world.rank(), world.size());
    let case = format!("{SPAWNED_CASE}spawn_children");
    // An argument with a space and an '=' must arrive as one argument.
    let children = match world.spawn(&own_exe(), &[&case, "bcast reduce=1"], 3, None, 0) {
        Err(e) if spawn_unsupported(env, &e) => return Ok(()),
        r => r?,
    };
    ensure_eq!(children.remote_size(), 3);
    ensure_eq!(children.size(), size);
    // Broadcast N to the children, who reduce N + their rank back to the root.
    let mut n = 1000i64;
    let role = if rank == 0 { mpi4rs::root() } else { proc_null() };
    children.bcast(&mut n, role)?;
    let mut sum = 0i64;
    children.reduce(&0i64, Some(&mut sum), &Op::SUM, role)?;
    if rank == 0 {
        ensure_eq!(sum, 3 * 1000 + 3); // N from each of 3 children, plus ranks 0 + 1 + 2
    }
    // Merged, the parents come first: ranks 0..size are the parents.
    let all = children.merge(false)?;
    ensure_eq!(all.size(), size + 3);
    ensure_eq!(all.rank(), rank);
    let mut total = 0i32;
    all.allreduce(&1i32, &mut total, &Op::SUM)?;
    ensure_eq!(total, size + 3);
    drop(all);
    children.disconnect()?;

    // Spawn-multiple: one "a" and two "b" processes, told apart by argument and APPNUM.
    let cmds = [
        SpawnCommand::new(own_exe()).args([case.as_str(), "multiple", "a"]).maxprocs(1),
        SpawnCommand::new(own_exe()).args([case.as_str(), "multiple", "b"]).maxprocs(2),
    ];
    let mpmd = world.spawn_multiple(&cmds, 0)?;
    ensure_eq!(mpmd.remote_size(), 3);
    if rank == 0 {
        let mut got: Vec<(i32, String, Option<i32>)> =
            (0..3).map(|_| mpmd.recv_obj(any_source(), 7)).collect::<Result<_>>()?;
        got.sort();
        let want = [(0, "a".to_string(), Some(0)), (1, "b".into(), Some(1)), (2, "b".into(), Some(1))];
        ensure_eq!(got, want);
    }
    mpmd.disconnect()?;
    if rank == 0 {
        println!("spawn ok: 3 children of {size} parents, bcast/reduce/merge, spawn_multiple");
    }
    Ok(())
}

fn spawned_child(env: &Environment, parent: mpi4rs::InterComm) -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let world = env.world();
    ensure_err!(dynamic::get_parent(), Error::InvalidArgument(_));
    if args.iter().any(|a| a == "multiple") {
        let label = args.last().cloned().unwrap_or_default();
        parent.send_obj(&(world.rank(), label, world.appnum()?), 0, 7)?;
        return parent.disconnect();
    }
    ensure!(args.iter().any(|a| a == "bcast reduce=1"), "arguments arrived as {args:?}");
    ensure_eq!(world.size(), 3);
    ensure!(parent.remote_size() >= 1);
    let mut n = 0i64;
    parent.bcast(&mut n, 0)?;
    ensure_eq!(n, 1000);
    parent.reduce(&(n + world.rank() as i64), None::<&mut i64>, &Op::SUM, 0)?;
    let all = parent.merge(true)?;
    ensure_eq!(all.rank(), parent.remote_size() + world.rank());
    let mut total = 0i32;
    all.allreduce(&1i32, &mut total, &Op::SUM)?;
    ensure_eq!(total, parent.remote_size() + 3);
    drop(all);
    parent.disconnect()
}

/// A missing program is refused before MPI is asked (Open MPI's launcher would end the job).
fn spawn_missing_program(env: &Environment) -> Result<()> {
    let world = env.world();
    for missing in ["/nonexistent/mpi4rs-no-such-program", "mpi4rs-no-such-program-on-path", "./Cargo.toml"] {
        let e = ensure_err!(world.spawn(missing, &[], 1, None, 0), Error::InvalidArgument(_));
        ensure!(e.to_string().contains("not an executable"), "{e}");
    }
    // Executable by its mode, but neither ELF nor #!: execve would fail ("Exec format error").
    let mut pid = std::process::id();
    world.bcast(&mut pid, 0)?;
    let text = std::env::temp_dir().join(format!("mpi4rs-not-a-program-{pid}"));
    if world.rank() == 0 {
        use std::os::unix::fs::PermissionsExt;
        let io = |e: std::io::Error| Error::InvalidArgument(format!("{text:?}: {e}"));
        std::fs::write(&text, "just some text\n").map_err(io)?;
        std::fs::set_permissions(&text, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    }
    world.barrier()?;
    let r = world.spawn(text.to_str().expect("UTF-8 path"), &[], 1, None, 0);
    world.barrier()?;
    if world.rank() == 0 {
        let _ = std::fs::remove_file(&text);
    }
    let e = ensure_err!(r, Error::InvalidArgument(_));
    ensure!(e.to_string().contains("not an executable"), "{e}");
    if world.rank() == 0 {
        println!("missing program: Err");
    }
    Ok(())
}

fn ports_and_names(env: &Environment) -> Result<()> {
    let world = env.world();
    let rank = world.rank();
    // Even ranks are the server, odd ranks the client.
    let half = world.split(Some(rank % 2), rank)?.expect("every rank has a colour");
    let service = "mpi4rs-dynamic-test";
    let port = if rank == 0 {
        match dynamic::open_port(None) {
            Err(e) if unsupported(env, &e) => None,
            r => Some(r?),
        }
    } else {
        None
    };
    let mut name = port.as_ref().map(|p| p.name().to_string()).unwrap_or_default();
    world.bcast_obj(&mut name, 0)?;
    if name.is_empty() {
        return Ok(()); // rank 0 printed why
    }
    if rank == 0 {
        dynamic::publish_name(service, &name, None)?;
    }
    world.barrier()?;
    if rank == 1 {
        ensure_eq!(dynamic::lookup_name(service, None)?, name);
    }
    let inter = if rank % 2 == 0 { half.accept(&name, None, 0)? } else { half.connect(&name, None, 0)? };
    ensure_eq!(inter.remote_size(), world.size() / 2);
    // Each side learns the other's ranks in COMM_WORLD.
    let theirs: Vec<i32> = inter.allgather_obj(rank)?;
    let want: Vec<i32> = (0..world.size()).filter(|r| r % 2 != rank % 2).collect();
    ensure_eq!(theirs, want);
    inter.disconnect()?;
    world.barrier()?;
    if rank == 0 {
        dynamic::unpublish_name(service, &name, None)?;
        let e = ensure_err!(dynamic::lookup_name(service, None), Error::Mpi { .. });
        ensure_eq!(e.class(), Some(ErrorClass::Name));
        port.expect("rank 0 opened the port").close()?;
        println!("ports ok: accept/connect between halves of {}, publish/lookup/unpublish", world.size());
    }
    Ok(())
}

fn join_over_a_socket(env: &Environment) -> Result<()> {
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    let world = env.world();
    let rank = world.rank();
    let io = |e: std::io::Error| Error::InvalidArgument(format!("socket: {e}"));
    let mut port = 0u16;
    let listener = if rank == 0 {
        let l = TcpListener::bind("127.0.0.1:0").map_err(io)?;
        port = l.local_addr().map_err(io)?.port();
        Some(l)
    } else {
        None
    };
    world.bcast(&mut port, 0)?;
    let stream = match rank {
        0 => listener.expect("bound").accept().map_err(io)?.0,
        _ => TcpStream::connect(("127.0.0.1", port)).map_err(io)?,
    };
    let inter = match dynamic::join(stream.as_raw_fd()) {
        Err(e) if unsupported(env, &e) => return Ok(()),
        r => r?,
    };
    ensure_eq!((inter.size(), inter.remote_size()), (1, 1));
    let other: i32 = inter.sendrecv_obj(&rank, 0, 3, 0, 3)?.expect("a peer");
    ensure_eq!(other, 1 - rank);
    inter.disconnect()?;
    if rank == 0 {
        println!("join ok");
    }
    Ok(())
}
