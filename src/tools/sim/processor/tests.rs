use super::*;

fn post(n: u64) -> Post {
    Post {
        request: n,
        payment: n as u32,
        stamp: 0,
    }
}

const FAST: Setting = Setting {
    delay_ms: 100,
    failing: false,
};

/// Finishes what is done by `now` at a constant setting.
fn advance(model: &mut ProcessorModel, now: u64, setting: Setting) -> Vec<(u64, u64, Reply)> {
    let mut replies = Vec::new();
    model.advance(
        now,
        |_| setting,
        |at, post, reply| replies.push((at, post.request, reply)),
    );
    replies
}

#[test]
fn eight_hundred_at_work_five_hundred_waiting_then_429() {
    let mut model = ProcessorModel::new();
    let refused: Vec<u64> = (0..1_400)
        .filter(|&n| model.post(post(n), 0, FAST) == Some(Reply::Busy))
        .collect();
    assert_eq!(refused, (1_300..1_400).collect::<Vec<_>>());
    assert_eq!(model.load(), (MAX_ACTIVE, MAX_WAITING));
    assert!(
        advance(&mut model, 99, FAST).is_empty(),
        "none done before the delay"
    );
    let first = advance(&mut model, 100, FAST);
    assert_eq!(first.len(), 800);
    assert!(
        first
            .iter()
            .all(|&(at, _, reply)| at == 100 && reply == Reply::Stored)
    );
    // The 500 waiting got their places at 100 ms, and finish at 200 ms.
    assert_eq!(model.load(), (500, 0));
    assert_eq!(model.post(post(2_000), 150, FAST), None, "room again");
    let second = advance(&mut model, 200, FAST);
    assert_eq!(second.len(), 500);
    assert!(
        second
            .iter()
            .all(|&(at, id, _)| at == 200 && (800..1_300).contains(&id))
    );
    assert_eq!(
        advance(&mut model, 250, FAST),
        vec![(250, 2_000, Reply::Stored)]
    );
}

#[test]
fn the_delay_is_read_at_admission_and_the_failure_when_it_ends() {
    // As the emulator: the delay set when the request got its place, the
    // failure flag set when the delay ended.
    let mut model = ProcessorModel::new();
    model.post(
        post(1),
        0,
        Setting {
            delay_ms: 1_000,
            failing: false,
        },
    );
    model.post(
        post(2),
        10,
        Setting {
            delay_ms: 50,
            failing: true,
        },
    );
    let setting_at = |ms: u64| Setting {
        delay_ms: 0,
        failing: (500..1_000).contains(&ms),
    };
    let mut replies = Vec::new();
    model.advance(2_000, setting_at, |at, post, reply| {
        replies.push((at, post.request, reply))
    });
    // Request 2 was admitted while failing but finished healthy; request
    // 1 finished at 1 000 ms, when the failure had ended too.
    assert_eq!(
        replies,
        vec![(60, 2, Reply::Stored), (1_000, 1, Reply::Stored)]
    );
    model.post(
        post(3),
        2_000,
        Setting {
            delay_ms: 600,
            failing: false,
        },
    );
    model.advance(
        3_000,
        |ms| Setting {
            delay_ms: 0,
            failing: ms >= 2_500,
        },
        |_, _, reply| assert_eq!(reply, Reply::Failed, "failing when its delay ended"),
    );
    assert_eq!(model.lookup(3), None, "a 500 stores nothing");
    assert_eq!(
        model.lookup(1),
        Some(Stored {
            stamp: 0,
            at: 1_000
        })
    );
}

#[test]
fn a_second_post_of_a_stored_payment_is_422_and_keeps_the_first_stamp() {
    let mut model = ProcessorModel::new();
    model.post(
        Post {
            request: 1,
            payment: 7,
            stamp: 5,
        },
        0,
        FAST,
    );
    model.post(
        Post {
            request: 2,
            payment: 7,
            stamp: 9,
        },
        0,
        FAST,
    );
    let replies = advance(&mut model, 100, FAST);
    assert_eq!(
        replies,
        vec![(100, 1, Reply::Stored), (100, 2, Reply::Duplicate)]
    );
    assert_eq!(model.lookup(7), Some(Stored { stamp: 5, at: 100 }));
    assert_eq!(model.stored().count(), 1);
}
