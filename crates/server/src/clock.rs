//! The injected clock: the service reads time only through [`Clock`], so tests can pin it
//! and a simulation can run the whole service in scenario time ([`ScaledClock`]).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }
}

/// The fastest a [`ScaledClock`] may run: a day of scenario time in under nine seconds.
pub const CLOCK_SPEED_MAX: f64 = 10_000.0;

/// A simulation's clock: it reads `start_ms` when created and then runs `speed` times as
/// fast as real time. Everything the service derives from time (detection's prediction
/// instant, track expiry, hotline deadlines, event times) then lives in scenario time, so
/// a recorded or generated scenario can be run through the service at any pace.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    start_ms: i64,
    speed: f64,
    origin: Instant,
}

/// Why a scaled clock cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScaledClockError {
    #[error("the clock speed {0} must be a number above 0 and at most {CLOCK_SPEED_MAX} (CLOCK_SPEED_MAX)")]
    Speed(f64),
}

impl ScaledClock {
    /// A clock reading `start_ms` (Unix milliseconds) now and running `speed` times as
    /// fast as real time.
    pub fn new(start_ms: i64, speed: f64) -> Result<Self, ScaledClockError> {
        Self::starting_at(start_ms, speed, Instant::now())
    }

    /// A clock that read `start_ms` at the real instant `origin`.
    pub fn starting_at(
        start_ms: i64,
        speed: f64,
        origin: Instant,
    ) -> Result<Self, ScaledClockError> {
        if !(speed.is_finite() && speed > 0.0 && speed <= CLOCK_SPEED_MAX) {
            return Err(ScaledClockError::Speed(speed));
        }
        Ok(ScaledClock {
            start_ms,
            speed,
            origin,
        })
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }

    /// The real instant at which the clock read its start.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// The reading after `real_elapsed` of real time since the start.
    pub fn reading_after(&self, real_elapsed: Duration) -> i64 {
        let scaled_ms = (real_elapsed.as_secs_f64() * 1000.0 * self.speed).floor();
        // A year of real time at the greatest speed is about 3e14 ms: far inside i64.
        self.start_ms.saturating_add(scaled_ms as i64)
    }

    /// How much real time remains until the clock reads `unix_ms` (zero if it has).
    pub fn real_time_until(&self, unix_ms: i64) -> Duration {
        let scaled_ms = unix_ms.saturating_sub(self.start_ms) as f64;
        let target = Duration::from_secs_f64((scaled_ms / self.speed / 1000.0).max(0.0));
        target.saturating_sub(self.origin.elapsed())
    }
}

impl Clock for ScaledClock {
    fn now_ms(&self) -> i64 {
        self.reading_after(self.origin.elapsed())
    }
}

/// Milliseconds since the Unix epoch of an RFC 3339 time (`2015-10-20T10:00:00Z`, any
/// offset); the error says what is wrong.
pub fn parse_rfc3339_ms(text: &str) -> Result<i64, String> {
    let time = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|error| format!("{text:?} is not an RFC 3339 time ({error})"))?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| format!("{text:?} is out of range"))
}

/// RFC 3339 UTC with millisecond precision (`2015-10-20T10:00:00.000Z`).
///
/// Written digit by digit rather than through `format!`: a checked write formats several
/// times (its audit entries, events and conflict windows), and the formatting machinery
/// was about 2% of the service's CPU under load. Years outside 0–9999 take `format!`.
pub fn rfc3339_ms(unix_ms: i64) -> String {
    let nanos = i128::from(unix_ms) * 1_000_000;
    let Ok(time) = OffsetDateTime::from_unix_timestamp_nanos(nanos) else {
        return OffsetDateTime::UNIX_EPOCH
            .format(&Rfc3339)
            .unwrap_or_default();
    };
    let (date, clock) = (time.date(), time.time());
    let Some(year) = u32::try_from(date.year()).ok().filter(|year| *year <= 9999) else {
        return rfc3339_ms_formatted(time);
    };
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for slot in text[at..at + width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, u32::from(u8::from(date.month())));
    put(8, 2, u32::from(date.day()));
    put(11, 2, u32::from(clock.hour()));
    put(14, 2, u32::from(clock.minute()));
    put(17, 2, u32::from(clock.second()));
    put(20, 3, u32::from(clock.millisecond()));
    String::from_utf8(text.to_vec()).expect("ASCII digits and punctuation")
}

fn rfc3339_ms_formatted(time: OffsetDateTime) -> String {
    let (date, clock) = (time.date(), time.time());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        date.year(),
        u8::from(date.month()),
        date.day(),
        clock.hour(),
        clock.minute(),
        clock.second(),
        clock.millisecond()
    )
}

/// RFC 3339 UTC of seconds since the epoch, to the millisecond.
pub fn rfc3339_s(unix_s: f64) -> String {
    rfc3339_ms((unix_s * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_clock_runs_speed_times_as_fast_from_its_start() {
        let clock = ScaledClock::new(1_446_541_200_000, 10.0).unwrap();
        assert_eq!(clock.reading_after(Duration::ZERO), 1_446_541_200_000);
        assert_eq!(
            clock.reading_after(Duration::from_millis(1500)),
            1_446_541_215_000
        );
        let slow = ScaledClock::new(0, 0.5).unwrap();
        assert_eq!(slow.reading_after(Duration::from_secs(10)), 5_000);
    }

    #[test]
    fn a_scaled_clock_reads_its_start_at_first_and_never_goes_back() {
        let clock = ScaledClock::new(1_000, 100.0).unwrap();
        let first = clock.now_ms();
        let second = clock.now_ms();
        assert!(first >= 1_000 && second >= first);
    }

    #[test]
    fn a_scaled_clock_says_how_long_until_a_reading() {
        let origin = Instant::now();
        let clock = ScaledClock::starting_at(0, 10.0, origin).unwrap();
        let wait = clock.real_time_until(60_000);
        assert!(wait <= Duration::from_secs(6) && wait > Duration::from_secs(5));
        assert_eq!(clock.real_time_until(-5), Duration::ZERO);
    }

    #[test]
    fn a_scaled_clock_refuses_speeds_that_are_not_positive_and_finite() {
        for speed in [0.0, -1.0, f64::NAN, f64::INFINITY, CLOCK_SPEED_MAX * 2.0] {
            assert!(
                matches!(ScaledClock::new(0, speed), Err(ScaledClockError::Speed(_))),
                "{speed}"
            );
        }
    }

    #[test]
    fn milliseconds_format_as_rfc3339_utc() {
        assert_eq!(rfc3339_ms(1_445_335_200_000), "2015-10-20T10:00:00.000Z");
        assert_eq!(rfc3339_ms(1_445_335_200_123), "2015-10-20T10:00:00.123Z");
        assert_eq!(rfc3339_s(1_445_335_200.5), "2015-10-20T10:00:00.500Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_ms(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn digit_by_digit_formatting_matches_format() {
        use rand::{Rng as _, SeedableRng as _};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        // Year 0 to 9999, and every millisecond digit in the first thousand.
        let times = (0..20_000)
            .map(|_| rng.random_range(-62_167_219_200_000..=253_402_300_799_999_i64))
            .chain(0..1000);
        for unix_ms in times {
            let time =
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000).unwrap();
            assert_eq!(rfc3339_ms(unix_ms), rfc3339_ms_formatted(time), "{unix_ms}");
        }
    }
}
