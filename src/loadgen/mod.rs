//! Open-model HTTP load with HdrHistogram latencies.
