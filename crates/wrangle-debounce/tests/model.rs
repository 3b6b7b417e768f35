//! R6: every mode against its reference model (`common/model.rs`) over random schedules on
//! virtual time, 256 cases per property; the stream adaptors against a transcription of
//! lodash's `debounce`.

mod common;

use common::harness;
use common::model::{self, ModelMode};
use proptest::prelude::*;

/// Calls at non-decreasing whole milliseconds (gaps of 0 make simultaneous calls), each
/// with its own argument so that results name the run that served them.
fn schedule() -> impl Strategy<Value = Vec<(u64, u32)>> {
    prop::collection::vec(0u64..25, 0..40).prop_map(|gaps| {
        let mut t = 0;
        gaps.into_iter()
            .enumerate()
            .map(|(i, gap)| {
                t += gap;
                (t, i as u32)
            })
            .collect()
    })
}

fn seed_mode() -> impl Strategy<Value = ModelMode> {
    prop_oneof![
        Just(ModelMode::Eager),
        Just(ModelMode::Lazy),
        Just(ModelMode::EagerLazy),
        Just(ModelMode::Deferred),
    ]
}

fn lodash_debouncer_mode() -> impl Strategy<Value = (u64, ModelMode)> {
    (1u64..20, any::<bool>(), prop::option::of(0u64..30)).prop_map(|(window, leading, extra)| {
        (
            window,
            ModelMode::Lodash {
                leading,
                trailing: true,
                max_wait: extra.map(|e| window + e),
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn seed_modes_match_the_model(
        mode in seed_mode(),
        window in 1u64..40,
        takes in 0u64..30,
        calls in schedule(),
    ) {
        let want = model::debouncer(mode, window, &calls);
        let got = harness::debouncer(mode, window, takes, &calls);
        if mode == ModelMode::Deferred {
            prop_assert_eq!(got.runs, want.runs);
        } else {
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn trailing_modes_match_lodash(
        (window, mode) in lodash_debouncer_mode(),
        takes in 0u64..30,
        calls in schedule(),
    ) {
        let mut want = model::debouncer(mode, window, &calls);
        want.runs.sort_unstable();
        let got = harness::debouncer(mode, window, takes, &calls);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn debounce_stream_matches_lodash(
        window in 1u64..20,
        leading in any::<bool>(),
        trailing in any::<bool>(),
        extra in prop::option::of(0u64..30),
        items in schedule(),
        tail in 0u64..40,
    ) {
        prop_assume!(leading || trailing);
        let mode = ModelMode::Lodash { leading, trailing, max_wait: extra.map(|e| window + e) };
        let end = items.last().map_or(0, |&(t, _)| t) + tail;
        let want = model::lodash(mode, window, &items, Some(end)).runs;
        let got = harness::stream(mode, false, window, &items, end);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn throttle_stream_matches_lodash(
        window in 1u64..20,
        leading in any::<bool>(),
        trailing in any::<bool>(),
        items in schedule(),
        tail in 0u64..40,
    ) {
        prop_assume!(leading || trailing);
        let mode = ModelMode::Lodash { leading, trailing, max_wait: Some(window) };
        let end = items.last().map_or(0, |&(t, _)| t) + tail;
        let want = model::lodash(mode, window, &items, Some(end)).runs;
        let got = harness::stream(mode, true, window, &items, end);
        prop_assert_eq!(got, want);
    }
}

/// The model agrees with the seed's published numbers (a check of the model itself).
#[test]
fn the_model_reproduces_the_seed_cases() {
    let calls = [(0, 1), (50, 2), (90, 3), (120, 4)];
    let lazy = model::debouncer(ModelMode::Lazy, 100, &calls);
    assert_eq!(lazy.runs, [(100, 3), (220, 4)]);
    assert_eq!(lazy.served_by, [Some(3), Some(3), Some(3), Some(4)]);
    let eager = model::debouncer(ModelMode::Eager, 100, &calls);
    assert_eq!(eager.runs, [(0, 1), (120, 4)]);
    assert_eq!(eager.served_by, [Some(1), Some(1), Some(1), Some(4)]);
    let both = model::debouncer(ModelMode::EagerLazy, 10, &[(0, 1), (0, 2), (0, 3)]);
    assert_eq!(both.served_by, [Some(1), Some(3), Some(3)]);
    let deferred = model::debouncer(ModelMode::Deferred, 10, &[(0, 1), (0, 2), (0, 3), (25, 4)]);
    assert_eq!(deferred.runs, [(0, 1), (10, 3), (25, 4)]);
}
