use super::*;

#[test]
fn splitmix64_matches_its_reference_outputs() {
    // The first outputs for seed 1234567 of the reference C code
    // (prng.di.unimi.it/splitmix64.c).
    let mut rng = SplitMix64::new(1_234_567);
    let expected = [
        6_457_827_717_110_365_317,
        3_203_168_211_198_807_973,
        9_817_491_932_198_370_423,
        4_593_380_528_125_082_431,
        16_408_922_859_458_223_821,
    ];
    for value in expected {
        assert_eq!(rng.next_u64(), value);
    }
}

#[test]
fn the_same_seed_and_index_give_the_same_timeline() {
    assert_eq!(generate(7, 42), generate(7, 42));
    assert_ne!(generate(7, 42), generate(7, 43));
    assert_ne!(generate(7, 42), generate(8, 42));
}

#[test]
fn the_final_s_structure() {
    for index in 0..500 {
        let timeline = generate(1, index);
        assert_eq!(timeline.stages.len(), STAGES, "#{index}");
        assert_eq!(timeline.stages[0].at_s, 1.0);
        assert!(
            timeline.stages.windows(2).all(|w| w[0].at_s < w[1].at_s),
            "#{index}"
        );
        assert!(timeline.stages.last().unwrap().at_s < 300.0);
        for stage in &timeline.stages {
            assert!(stage.default.delay_ms <= 5_000 && stage.fallback.delay_ms <= 5_000);
        }
        Timeline::parse(&timeline.to_text("x"), "round trip").unwrap();
    }
}

/// How often each promised case shows up in 500 timelines, judged from
/// the stages themselves, not from their labels.
#[test]
fn every_promised_case_has_a_fair_share() {
    let mut counts = [0usize; 7];
    for index in 0..500 {
        let t = generate(1, index);
        let s = &t.stages;
        let ends_at = |i: usize| s.get(i + 1).map_or(t.duration_s, |n| n.at_s);
        let last = s.last().unwrap();
        let healthy_fallback = |st: &Stage| !st.fallback.failing && st.fallback.delay_ms < 1_500;
        let cases = [
            // Default outage to the end, the fallback healthy.
            last.default.failing && healthy_fallback(last),
            // Both failing.
            s.iter().any(|st| st.default.failing && st.fallback.failing),
            // A delay just under the margin (1.5–1.9 s) ...
            s.iter().any(|st| {
                [st.default, st.fallback]
                    .iter()
                    .any(|p| !p.failing && (1_500..1_900).contains(&p.delay_ms))
            }),
            // ... and just over it (1.9–2.5 s).
            s.iter().any(|st| {
                [st.default, st.fallback]
                    .iter()
                    .any(|p| !p.failing && (1_900..=2_500).contains(&p.delay_ms))
            }),
            // A blip: a stage of 2–8 s that fails or is slow.
            (0..s.len()).any(|i| {
                let length = ends_at(i) - s[i].at_s;
                (2.0..=8.0).contains(&length)
                    && (s[i].default.failing || s[i].default.delay_ms >= 1_500)
            }),
            // A long outage: the default failing over 120 s or more.
            (0..s.len()).any(|i| {
                let run = s[i..].iter().take_while(|st| st.default.failing).count();
                run > 0 && ends_at(i + run - 1) - s[i].at_s >= 120.0
            }),
            // Plain random stages.
            s.iter().any(|st| st.label == "plain"),
        ];
        for (count, case) in counts.iter_mut().zip(cases) {
            *count += usize::from(case);
        }
    }
    for (case, count) in counts.iter().enumerate() {
        assert!(*count >= 50, "case {case}: {count} of 500 ({counts:?})");
    }
}
