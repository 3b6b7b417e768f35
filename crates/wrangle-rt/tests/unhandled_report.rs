//! The unhandled-error hook. One test, because the process-wide handler is global.

use std::sync::{Arc, Mutex};

use wrangle_rt::{ErrorReporter, JoinError, Unhandled};

#[test]
fn reporters_use_their_handler_then_the_global_one() {
    let global = Arc::new(Mutex::new(Vec::<String>::new()));
    let g = global.clone();
    assert!(
        wrangle_rt::set_global_error_handler(move |u: Unhandled| g
            .lock()
            .unwrap()
            .push(u.to_string()))
        .is_none()
    );

    let own = Arc::new(Mutex::new(Vec::<String>::new()));
    let o = own.clone();
    let custom =
        ErrorReporter::new(move |u: Unhandled| o.lock().unwrap().push(u.origin().to_owned()));
    custom.report(Unhandled::new("pool", JoinError::Cancelled));
    ErrorReporter::global().report(Unhandled::new("timer", "tick failed"));
    wrangle_rt::report_unhandled(Unhandled::new("scope", std::io::Error::other("io")));

    assert_eq!(*own.lock().unwrap(), ["pool"]);
    assert_eq!(
        *global.lock().unwrap(),
        [
            "unhandled error in timer: tick failed",
            "unhandled error in scope: io"
        ]
    );
    assert!(wrangle_rt::reset_global_error_handler().is_some());
    assert!(wrangle_rt::reset_global_error_handler().is_none());

    // Errors keep their source chain.
    let u = Unhandled::new("x", JoinError::Cancelled);
    assert_eq!(
        std::error::Error::source(&u).unwrap().to_string(),
        "task was cancelled"
    );
}
