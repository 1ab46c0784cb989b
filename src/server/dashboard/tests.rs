use super::page::{duration, encode, query};
use super::traffic::sparkline;

#[test]
fn durations_queries_and_sparklines_read_as_intended() {
    assert_eq!(duration(4.25), "4.2 s");
    assert_eq!(duration(185.0), "3 min 5 s");
    assert_eq!(duration(7260.0), "2 h 1 min");
    assert_eq!(encode("a b/é"), "a%20b%2F%C3%A9");
    assert_eq!(
        query(&[("experiment", "x y"), ("status", ""), ("page", "2")]),
        "?experiment=x%20y&page=2"
    );
    assert_eq!(query(&[("status", "")]), "");
    // Oldest left, newest right, the maximum at the top (2 units from the edge).
    let svg = sparkline(&[0.0, 5.0, 10.0], "rps");
    assert!(
        svg.contains("points=\"0.0,26.0 60.0,14.0 120.0,2.0\""),
        "{svg}"
    );
    assert!(sparkline(&[], "rps").contains("points=\"\""));
}
