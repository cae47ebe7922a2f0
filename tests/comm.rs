//! Communicators, groups and intercommunicators, with known answers at every rank count.
mod common;

use common::{rank_size, Suite};
use mpi4rs::prelude::*;
use mpi4rs::{ffi, Comparison, Environment, Error, Group, Result};

fn main() {
    Suite::new("comm")
        .case("compare_and_dup", compare_and_dup)
        .case("split_even_odd", split_even_odd)
        .case("split_undefined_and_negative_color", split_undefined_and_negative_color)
        .case("split_shared", split_shared)
        .case("create_from_even_group", create_from_even_group)
        .case("create_group_from_even_group", create_group_from_even_group)
        .case("names", names)
        .case("group_basics", group_basics)
        .case("group_incl_excl", group_incl_excl)
        .case("group_ranges", group_ranges)
        .case("group_set_operations", group_set_operations)
        .case("group_translate_ranks", group_translate_ranks)
        .case("group_compare", group_compare)
        .case("group_invalid_ranks", group_invalid_ranks)
        .case("intercomm_even_odd", intercomm_even_odd)
        .case("predefined_attributes", predefined_attributes)
        .case("rsmpi_interop", rsmpi_interop)
        .run();
}

/// Number of even ranks among `0..n`.
fn evens(n: i32) -> i32 {
    (n + 1) / 2
}

/// The even ranks `0, 2, 4, …` below `n`.
fn even_ranks(n: i32) -> Vec<i32> {
    (0..n).step_by(2).collect()
}

/// The odd ranks `1, 3, …` below `n`.
fn odd_ranks(n: i32) -> Vec<i32> {
    (1..n).step_by(2).collect()
}

fn compare_and_dup(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    ensure_eq!(world.compare(world)?, Comparison::Identical);
    ensure!(!world.is_inter());
    ensure_eq!(world.peer_count(), n);
    let dup = world.dup()?;
    ensure_eq!(world.compare(&dup)?, Comparison::Congruent);
    ensure_eq!(dup.compare(world)?, Comparison::Congruent);
    ensure_eq!((dup.size(), dup.rank()), (n, me));
    let dup2 = dup.dup()?;
    ensure_eq!(dup2.compare(&dup)?, Comparison::Congruent);
    // COMM_SELF: the same group as COMM_WORLD only when there is one process.
    let want = if n == 1 { Comparison::Congruent } else { Comparison::Unequal };
    ensure_eq!(world.compare(env.self_comm())?, want);
    ensure_eq!((env.self_comm().size(), env.self_comm().rank()), (1, 0));
    // A reordered split of the whole world: same members, other order (when n ≥ 2).
    let reversed = world.split(Some(0), n - 1 - me)?;
    let reversed = match reversed {
        Some(c) => c,
        None => return Err(Error::InvalidArgument("split with color 0 gave None".into())),
    };
    ensure_eq!(reversed.rank(), n - 1 - me);
    let want = if n == 1 { Comparison::Congruent } else { Comparison::Similar };
    ensure_eq!(world.compare(&reversed)?, want);
    // Messages on a duplicate do not match those on the original.
    let (right, left) = common::neighbours(env);
    let (mut x, mut y) = (0u32, 0u32);
    mpi4rs::scope(|s| {
        let a = world.isend(s, &1u32, right, 8)?;
        let b = dup.isend(s, &2u32, right, 8)?;
        dup.recv(&mut y, left, 8)?;
        world.recv(&mut x, left, 8)?;
        a.wait()?;
        b.wait()?;
        Ok(())
    })?;
    ensure_eq!((x, y), (1, 2));
    dup.barrier()?;
    Ok(())
}

fn split_even_odd(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let color = me % 2;
    let half = world.split(Some(color), me)?;
    let half = match half {
        Some(c) => c,
        None => return Err(Error::InvalidArgument("split gave None for a defined color".into())),
    };
    let want_size = if color == 0 { evens(n) } else { n / 2 };
    ensure_eq!(half.size(), want_size);
    ensure_eq!(half.rank(), me / 2);
    ensure_eq!(half.compare(world)?, if n == 1 { Comparison::Congruent } else { Comparison::Unequal });
    // Its group, translated back to the world, is the ranks of the same parity in order.
    let members = half.group()?.translate_ranks(&(0..want_size).collect::<Vec<_>>(), &world.group()?)?;
    let want: Vec<Option<i32>> =
        if color == 0 { even_ranks(n) } else { odd_ranks(n) }.into_iter().map(Some).collect();
    ensure_eq!(members, want);
    // A descending key reverses the order.
    let desc = world.split(Some(color), -me)?;
    let desc = match desc {
        Some(c) => c,
        None => return Err(Error::InvalidArgument("split gave None for a defined color".into())),
    };
    ensure_eq!(desc.size(), want_size);
    ensure_eq!(desc.rank(), want_size - 1 - me / 2);
    // Traffic inside a half: a ring within it.
    let (r, s) = (half.rank(), half.size());
    let outgoing = me * 7;
    let mut got = -1;
    let st = mpi4rs::scope(|sc| {
        let req = half.isend(sc, &outgoing, (r + 1) % s, 1)?;
        let st = half.recv(&mut got, (r + s - 1) % s, 1)?;
        req.wait()?;
        Ok(st)
    })?;
    ensure_eq!(st.source(), (r + s - 1) % s);
    // The world rank of the half's left neighbour, times 7.
    let left_world = 2 * ((r + s - 1) % s) + color;
    ensure_eq!(got, left_world * 7);
    Ok(())
}

fn split_undefined_and_negative_color(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // Everybody undefined: nobody gets a communicator.
    ensure!(world.split(None, 0)?.is_none());
    // Odd ranks undefined, even ranks together.
    let c = world.split(if me % 2 == 0 { Some(5) } else { None }, 0)?;
    match c {
        Some(c) => {
            ensure_eq!(me % 2, 0);
            ensure_eq!(c.size(), evens(n));
            ensure_eq!(c.rank(), me / 2);
        }
        None => ensure_eq!(me % 2, 1),
    }
    // A negative color is refused before MPI is called (so no rank is left waiting).
    let e = ensure_err!(world.split(Some(-1), 0), Error::InvalidArgument(_));
    ensure!(e.to_string().contains("negative"), "{e}");
    ensure_err!(world.split(Some(i32::MIN), me), Error::InvalidArgument(_));
    Ok(())
}

/// Whether every rank runs on the same host (processor names gathered at rank 0).
fn all_on_one_host(env: &Environment) -> Result<bool> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let mut name = [0u8; 256];
    let mine = mpi4rs::processor_name()?;
    let len = mine.len().min(name.len());
    name[..len].copy_from_slice(&mine.as_bytes()[..len]);
    let mut same = 1u8;
    if me == 0 {
        for src in 1..n {
            let mut other = [0u8; 256];
            world.recv(&mut other, src, 40)?;
            if other != name {
                same = 0;
            }
        }
        for dst in 1..n {
            world.send(&same, dst, 41)?;
        }
    } else {
        world.send(&name, 0, 40)?;
        world.recv(&mut same, 0, 41)?;
    }
    Ok(same == 1)
}

fn split_shared(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let shared = world.split_shared(me)?;
    ensure!((1..=n).contains(&shared.size()), "shared size {} of {n}", shared.size());
    ensure!((0..shared.size()).contains(&shared.rank()));
    if all_on_one_host(env)? {
        ensure_eq!(shared.size(), n);
        ensure_eq!(shared.rank(), me);
        ensure_eq!(world.compare(&shared)?, Comparison::Congruent);
    }
    Ok(())
}

fn create_from_even_group(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let group = world.group()?.incl(&even_ranks(n))?;
    ensure_eq!(group.size()?, evens(n));
    let c = world.create(&group)?;
    match c {
        Some(c) => {
            ensure_eq!(me % 2, 0);
            ensure_eq!(c.size(), evens(n));
            ensure_eq!(c.rank(), me / 2);
            ensure_eq!(c.group()?.compare(&group)?, Comparison::Identical);
            c.barrier()?;
        }
        None => ensure!(me % 2 == 1, "even rank {me} got no communicator"),
    }
    // The whole world's group gives a communicator congruent to the world.
    let all = world.create(&world.group()?)?;
    ensure!(all.is_some());
    if let Some(all) = all {
        ensure_eq!(world.compare(&all)?, Comparison::Congruent);
    }
    // The empty group: nobody is a member.
    ensure!(world.create(&Group::empty())?.is_none());
    Ok(())
}

fn create_group_from_even_group(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let group = world.group()?.incl(&even_ranks(n))?;
    let c = world.create_group(&group, 12)?;
    match c {
        Some(c) => {
            ensure_eq!(me % 2, 0);
            ensure_eq!(c.size(), evens(n));
            ensure_eq!(c.rank(), me / 2);
            c.barrier()?;
        }
        None => ensure!(me % 2 == 1, "even rank {me} got no communicator"),
    }
    // Only the odd ranks this time (none when n = 1), in reverse order.
    let mut odds = odd_ranks(n);
    odds.reverse();
    let c = world.create_group(&world.group()?.incl(&odds)?, 13)?;
    match c {
        Some(c) => {
            ensure_eq!(me % 2, 1);
            ensure_eq!(c.size(), n / 2);
            ensure_eq!(c.rank(), n / 2 - 1 - me / 2);
        }
        None => ensure_eq!(me % 2, 0),
    }
    ensure_err!(world.create_group(&group, -3), Error::InvalidTag { .. });
    Ok(())
}

fn names(env: &Environment) -> Result<()> {
    let world = env.world();
    ensure_eq!(world.name()?, "MPI_COMM_WORLD");
    ensure_eq!(env.self_comm().name()?, "MPI_COMM_SELF");
    let dup = world.dup()?;
    dup.set_name("mpi4rs test dup")?;
    ensure_eq!(dup.name()?, "mpi4rs test dup");
    ensure_eq!(world.name()?, "MPI_COMM_WORLD");
    // The longest name allowed, then one byte too many.
    let max = ffi::MAX_OBJECT_NAME() as usize;
    let longest = "n".repeat(max - 1);
    dup.set_name(&longest)?;
    ensure_eq!(dup.name()?, longest);
    let e = ensure_err!(dup.set_name(&"x".repeat(max)), Error::InvalidArgument(_));
    ensure!(e.to_string().contains(&format!("{}", max - 1)), "{e}");
    ensure_eq!(dup.name()?, longest);
    ensure_err!(dup.set_name("nul\0inside"), Error::InvalidArgument(_));
    dup.set_name("")?;
    ensure_eq!(dup.name()?, "");
    Ok(())
}

fn group_basics(env: &Environment) -> Result<()> {
    let (me, n) = rank_size(env);
    let g = env.world().group()?;
    ensure_eq!(g.size()?, n);
    ensure_eq!(g.rank()?, Some(me));
    let s = env.self_comm().group()?;
    ensure_eq!(s.size()?, 1);
    ensure_eq!(s.rank()?, Some(0));
    let e = Group::empty();
    ensure_eq!(e.size()?, 0);
    ensure_eq!(e.rank()?, None);
    ensure_eq!(e.compare(&Group::empty())?, Comparison::Identical);
    ensure_eq!(e.compare(&g)?, Comparison::Unequal);
    Ok(())
}

fn group_incl_excl(env: &Environment) -> Result<()> {
    let (me, n) = rank_size(env);
    let world = env.world().group()?;
    let even = world.incl(&even_ranks(n))?;
    ensure_eq!(even.size()?, evens(n));
    ensure_eq!(even.rank()?, (me % 2 == 0).then_some(me / 2));
    let odd = world.excl(&even_ranks(n))?;
    ensure_eq!(odd.size()?, n / 2);
    ensure_eq!(odd.rank()?, (me % 2 == 1).then_some(me / 2));
    ensure_eq!(odd.compare(&world.incl(&odd_ranks(n))?)?, Comparison::Identical);
    // incl keeps the order given: the last rank first.
    let last_first = world.incl(&[n - 1])?;
    ensure_eq!(last_first.size()?, 1);
    ensure_eq!(last_first.rank()?, (me == n - 1).then_some(0));
    // Nothing included / nothing excluded.
    ensure_eq!(world.incl(&[])?.size()?, 0);
    ensure_eq!(world.excl(&[])?.compare(&world)?, Comparison::Identical);
    let all: Vec<i32> = (0..n).collect();
    ensure_eq!(world.excl(&all)?.size()?, 0);
    ensure_eq!(world.excl(&all)?.rank()?, None);
    Ok(())
}

fn group_ranges(env: &Environment) -> Result<()> {
    let (me, n) = rank_size(env);
    let world = env.world().group()?;
    // (0, n-1, 2): the even ranks.
    let even = world.range_incl(&[(0, n - 1, 2)])?;
    ensure_eq!(even.size()?, evens(n));
    ensure_eq!(even.compare(&world.incl(&even_ranks(n))?)?, Comparison::Identical);
    // Everything backwards: same members, reverse order.
    let backwards = world.range_incl(&[(n - 1, 0, -1)])?;
    ensure_eq!(backwards.size()?, n);
    ensure_eq!(backwards.rank()?, Some(n - 1 - me));
    ensure_eq!(backwards.compare(&world)?, if n == 1 { Comparison::Identical } else { Comparison::Similar });
    // Two ranges: the odd ranks then the even ones.
    if n >= 2 {
        let odd_last = if n % 2 == 0 { n - 1 } else { n - 2 };
        let even_last = if n % 2 == 0 { n - 2 } else { n - 1 };
        let mixed = world.range_incl(&[(1, odd_last, 2), (0, even_last, 2)])?;
        ensure_eq!(mixed.size()?, n);
        let want = if me % 2 == 1 { me / 2 } else { n / 2 + me / 2 };
        ensure_eq!(mixed.rank()?, Some(want));
        // range_excl of the odd ranks leaves the even ones.
        let evens_left = world.range_excl(&[(1, odd_last, 2)])?;
        ensure_eq!(evens_left.compare(&even)?, Comparison::Identical);
    }
    // A stride larger than the span: just the first rank.
    let first_only = world.range_incl(&[(0, n - 1, n + 3)])?;
    ensure_eq!(first_only.size()?, 1);
    ensure_eq!(first_only.rank()?, (me == 0).then_some(0));
    // range_excl of everything but rank 0 in steps of 3: 0 excluded, then 3 …
    let excl3 = world.range_excl(&[(0, n - 1, 3)])?;
    let excluded = (0..n).step_by(3).count() as i32;
    ensure_eq!(excl3.size()?, n - excluded);
    ensure_eq!(excl3.rank()?, (me % 3 != 0).then_some(me - me / 3 - 1));
    // Bad ranges.
    ensure_err!(world.range_incl(&[(0, n - 1, 0)]), Error::InvalidArgument(_));
    if n >= 2 {
        ensure_err!(world.range_incl(&[(n - 1, 0, 1)]), Error::InvalidArgument(_));
        ensure_err!(world.range_incl(&[(0, n - 1, 1), (0, 0, 1)]), Error::InvalidArgument(_));
    }
    let e = ensure_err!(world.range_incl(&[(0, n, 1)]), Error::InvalidRank { .. });
    ensure!(matches!(e, Error::InvalidRank { rank, .. } if rank == n), "{e}");
    ensure_err!(world.range_excl(&[(-1, 0, 1)]), Error::InvalidRank { rank: -1, .. });
    Ok(())
}

fn group_set_operations(env: &Environment) -> Result<()> {
    let (me, n) = rank_size(env);
    let world = env.world().group()?;
    let even = world.incl(&even_ranks(n))?;
    let odd = world.incl(&odd_ranks(n))?;
    // Union: evens first, then odds.
    let u = even.union(&odd)?;
    ensure_eq!(u.size()?, n);
    ensure_eq!(u.rank()?, Some(if me % 2 == 0 { me / 2 } else { evens(n) + me / 2 }));
    ensure_eq!(u.compare(&world)?, if n >= 3 { Comparison::Similar } else { Comparison::Identical });
    ensure_eq!(even.union(&world)?.size()?, n);
    ensure_eq!(even.union(&even)?.compare(&even)?, Comparison::Identical);
    // Intersection.
    ensure_eq!(even.intersection(&odd)?.size()?, 0);
    ensure_eq!(even.intersection(&odd)?.rank()?, None);
    ensure_eq!(even.intersection(&odd)?.compare(&Group::empty())?, Comparison::Identical);
    let i = world.intersection(&even)?;
    ensure_eq!(i.size()?, evens(n));
    ensure_eq!(i.compare(&even)?, Comparison::Identical);
    // Difference.
    let d = world.difference(&even)?;
    ensure_eq!(d.size()?, n / 2);
    ensure_eq!(d.compare(&odd)?, Comparison::Identical);
    ensure_eq!(world.difference(&world)?.size()?, 0);
    ensure_eq!(even.difference(&odd)?.compare(&even)?, Comparison::Identical);
    ensure_eq!(Group::empty().difference(&world)?.size()?, 0);
    ensure_eq!(Group::empty().union(&odd)?.size()?, n / 2);
    // The first three ranks minus rank 1.
    let first3: Vec<i32> = (0..n.min(3)).collect();
    let without1 = world.incl(&first3)?.difference(&world.incl(&[n.min(2) - 1])?)?;
    ensure_eq!(without1.size()?, n.min(3) - 1);
    Ok(())
}

fn group_translate_ranks(env: &Environment) -> Result<()> {
    let (_, n) = rank_size(env);
    let world = env.world().group()?;
    let even = world.incl(&even_ranks(n))?;
    let ranks: Vec<i32> = (0..evens(n)).collect();
    ensure_eq!(
        even.translate_ranks(&ranks, &world)?,
        even_ranks(n).into_iter().map(Some).collect::<Vec<_>>()
    );
    // World ranks into the even group: None for the odd ones.
    let all: Vec<i32> = (0..n).collect();
    let want: Vec<Option<i32>> = (0..n).map(|r| (r % 2 == 0).then_some(r / 2)).collect();
    ensure_eq!(world.translate_ranks(&all, &even)?, want);
    // Into the empty group: nobody.
    ensure_eq!(world.translate_ranks(&all, &Group::empty())?, vec![None; n as usize]);
    // PROC_NULL translates to PROC_NULL; an empty list to an empty list.
    ensure_eq!(world.translate_ranks(&[proc_null()], &even)?, vec![Some(proc_null())]);
    ensure_eq!(world.translate_ranks(&[], &even)?, Vec::<Option<i32>>::new());
    // Reversed world: rank r is n-1-r.
    let backwards = world.range_incl(&[(n - 1, 0, -1)])?;
    let want: Vec<Option<i32>> = (0..n).map(|r| Some(n - 1 - r)).collect();
    ensure_eq!(world.translate_ranks(&all, &backwards)?, want);
    ensure_err!(world.translate_ranks(&[n], &even), Error::InvalidRank { .. });
    ensure_err!(even.translate_ranks(&[-7], &world), Error::InvalidRank { rank: -7, .. });
    Ok(())
}

fn group_compare(env: &Environment) -> Result<()> {
    let (_, n) = rank_size(env);
    let world = env.world().group()?;
    ensure_eq!(world.compare(&world)?, Comparison::Identical);
    ensure_eq!(world.compare(&env.world().dup()?.group()?)?, Comparison::Identical);
    let all: Vec<i32> = (0..n).collect();
    ensure_eq!(world.compare(&world.incl(&all)?)?, Comparison::Identical);
    let mut rotated: Vec<i32> = (1..n).collect();
    rotated.push(0);
    let want = if n == 1 { Comparison::Identical } else { Comparison::Similar };
    ensure_eq!(world.compare(&world.incl(&rotated)?)?, want);
    let want = if n == 1 { Comparison::Identical } else { Comparison::Unequal };
    ensure_eq!(world.compare(&world.incl(&[0])?)?, want);
    ensure_eq!(world.compare(&Group::empty())?, Comparison::Unequal);
    let me_only = env.self_comm().group()?;
    let want = if n == 1 { Comparison::Identical } else { Comparison::Unequal };
    ensure_eq!(world.compare(&me_only)?, want);
    Ok(())
}

fn group_invalid_ranks(env: &Environment) -> Result<()> {
    let (_, n) = rank_size(env);
    let world = env.world().group()?;
    let e = ensure_err!(world.incl(&[n]), Error::InvalidRank { .. });
    ensure!(
        matches!(e, Error::InvalidRank { rank, size, allows_any: false } if rank == n && size == n),
        "{e}"
    );
    ensure_err!(world.incl(&[0, -1]), Error::InvalidRank { rank: -1, .. });
    ensure_err!(world.excl(&[n + 5]), Error::InvalidRank { .. });
    ensure_err!(world.incl(&[proc_null()]), Error::InvalidRank { .. });
    let e = ensure_err!(world.incl(&[0, 0]), Error::InvalidArgument(_));
    ensure!(e.to_string().contains("twice"), "{e}");
    ensure_err!(world.excl(&[0, 0]), Error::InvalidArgument(_));
    ensure_err!(Group::empty().incl(&[0]), Error::InvalidRank { size: 0, .. });
    Ok(())
}

fn intercomm_even_odd(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    if n < 2 {
        return Ok(());
    }
    let odd = me % 2 == 1;
    let half = match world.split(Some(me % 2), me)? {
        Some(c) => c,
        None => return Err(Error::InvalidArgument("split gave None for a defined color".into())),
    };
    let (local_size, remote_size) = if odd { (n / 2, evens(n)) } else { (evens(n), n / 2) };
    ensure_eq!(half.size(), local_size);
    // Leaders: world rank 0 (even side) and world rank 1 (odd side).
    let inter = half.create_intercomm(0, world, if odd { 0 } else { 1 }, 77)?;
    ensure!(inter.is_inter());
    ensure!(!half.is_inter());
    ensure_eq!(inter.size(), local_size);
    ensure_eq!(inter.rank(), me / 2);
    ensure_eq!(inter.remote_size(), remote_size);
    ensure_eq!(inter.peer_count(), remote_size);
    ensure_eq!(inter.group()?.size()?, local_size);
    let remote = inter.remote_group()?;
    ensure_eq!(remote.size()?, remote_size);
    ensure_eq!(remote.rank()?, None);
    let want: Vec<Option<i32>> =
        if odd { even_ranks(n) } else { odd_ranks(n) }.into_iter().map(Some).collect();
    ensure_eq!(remote.translate_ranks(&(0..remote_size).collect::<Vec<_>>(), &world.group()?)?, want);
    ensure_eq!(inter.compare(world)?, Comparison::Unequal);

    // Point-to-point addresses remote ranks: local 0 of each side talks to remote 0.
    if inter.rank() == 0 {
        if !odd {
            inter.send(&[10i32, 20, 30], 0, 5)?;
            let mut back = [0i32; 3];
            let st = inter.recv(&mut back, 0, 6)?;
            ensure_eq!(st.source(), 0);
            ensure_eq!(back, [11, 21, 31]);
        } else {
            let mut got = [0i32; 3];
            let st = inter.recv(&mut got, 0, 5)?;
            ensure_eq!(st.source(), 0);
            ensure_eq!(st.tag(), 5);
            ensure_eq!(got, [10, 20, 30]);
            inter.send(&got.map(|v| v + 1), 0, 6)?;
        }
    }
    // Every rank sends its world rank to the remote rank with its own local index (when
    // the remote side has one), all at once.
    let me_local = inter.rank();
    mpi4rs::scope(|s| {
        let req = if me_local < remote_size { Some(inter.isend(s, &me, me_local, 7)?) } else { None };
        if me_local < remote_size {
            let mut from = -1;
            let st = inter.recv(&mut from, me_local, 7)?;
            ensure_eq!(st.source(), me_local);
            // The remote rank with index k is world rank 2k (+1 on the odd side).
            ensure_eq!(from, 2 * me_local + if odd { 0 } else { 1 });
        }
        if let Some(r) = req {
            r.wait()?;
        }
        Ok(())
    })?;
    // Ranks name the remote group: remote_size is one too many.
    let e = ensure_err!(inter.send(&1u8, remote_size, 0), Error::InvalidRank { .. });
    ensure!(matches!(e, Error::InvalidRank { size, .. } if size == remote_size), "{e}");
    inter.barrier()?;

    // Merge with the odd side high: even world ranks first.
    let merged = inter.merge(odd)?;
    ensure!(!merged.is_inter());
    ensure_eq!(merged.size(), n);
    let want_rank = if odd { evens(n) + me / 2 } else { me / 2 };
    ensure_eq!(merged.rank(), want_rank);
    let order: Vec<Option<i32>> = even_ranks(n).into_iter().chain(odd_ranks(n)).map(Some).collect();
    ensure_eq!(merged.group()?.translate_ranks(&(0..n).collect::<Vec<_>>(), &world.group()?)?, order);
    ensure_eq!(merged.compare(world)?, if n == 2 { Comparison::Congruent } else { Comparison::Similar });
    merged.barrier()?;

    // Dup: the same groups in a new context.
    let dup = inter.dup()?;
    ensure!(dup.is_inter());
    ensure_eq!(dup.compare(&inter)?, Comparison::Congruent);
    ensure_eq!((dup.size(), dup.rank(), dup.remote_size()), (local_size, me / 2, remote_size));
    if dup.rank() == 0 {
        if odd {
            dup.send(&99u64, 0, 8)?;
        } else {
            let mut v = 0u64;
            dup.recv(&mut v, 0, 8)?;
            ensure_eq!(v, 99);
        }
    }
    dup.barrier()?;
    // Bad leader arguments are refused before MPI.
    ensure_err!(half.create_intercomm(local_size, world, 0, 1), Error::InvalidRank { .. });
    ensure_err!(half.create_intercomm(0, world, 0, -1), Error::InvalidTag { .. });
    Ok(())
}

fn predefined_attributes(env: &Environment) -> Result<()> {
    let world = env.world();
    let (_, n) = rank_size(env);
    let tag_ub = world.tag_ub()?;
    ensure!(matches!(tag_ub, Some(t) if t >= 32767), "TAG_UB = {tag_ub:?}");
    ensure_eq!(tag_ub, Some(mpi4rs::tag_ub()));
    let universe = world.universe_size()?;
    if let Some(u) = universe {
        ensure!(u >= 1, "UNIVERSE_SIZE = {u} (world size {n})");
    }
    let appnum = world.appnum()?;
    if let Some(a) = appnum {
        ensure_eq!(a, 0); // one program, so the first (and only) application
    }
    // WTIME_IS_GLOBAL: any boolean is sensible; asking must work.
    let _global: Option<bool> = world.wtime_is_global()?;
    // On a communicator without the attribute the answer is Ok, whatever it is.
    env.self_comm().universe_size()?;
    world.dup()?.appnum()?;
    Ok(())
}

fn rsmpi_interop(env: &Environment) -> Result<()> {
    use mpi::traits::{Communicator as RsCommunicator, CommunicatorCollectives};
    let world = env.world();
    let (me, n) = rank_size(env);
    let rs = world.to_rsmpi()?;
    ensure_eq!((RsCommunicator::size(&rs), RsCommunicator::rank(&rs)), (n, me));
    rs.barrier();
    let back = Comm::from_rsmpi(&env.rsmpi_universe().expect("initialised by mpi4rs").world())?;
    ensure_eq!((back.size(), back.rank()), (n, me));
    ensure_eq!(back.compare(world)?, Comparison::Congruent);
    // A communicator converted both ways still carries messages.
    let round_trip = Comm::from_rsmpi(&rs)?;
    ensure_eq!(round_trip.compare(world)?, Comparison::Congruent);
    let (right, left) = common::neighbours(env);
    let outgoing = me as u16;
    let mut got = 0u16;
    mpi4rs::scope(|s| {
        let req = round_trip.isend(s, &outgoing, right, 3)?;
        round_trip.recv(&mut got, left, 3)?;
        req.wait()?;
        Ok(())
    })?;
    ensure_eq!(got, left as u16);
    Ok(())
}
