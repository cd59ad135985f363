// Helpers shared by every kernel family: the library prepends this file to each
// family's source before building it.

// Sums `value` over the work-group (power-of-two local size); every work-item gets the
// total. `scratch` holds one float per work-item.
inline float group_sum(float value, __local float *scratch) {
    const int lid = get_local_id(0);
    scratch[lid] = value;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = get_local_size(0) / 2; step > 0; step /= 2) {
        if (lid < step) scratch[lid] += scratch[lid + step];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float total = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

// The largest `value` over the work-group, as group_sum.
inline float group_max(float value, __local float *scratch) {
    const int lid = get_local_id(0);
    scratch[lid] = value;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = get_local_size(0) / 2; step > 0; step /= 2) {
        if (lid < step) scratch[lid] = fmax(scratch[lid], scratch[lid + step]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float largest = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return largest;
}

// The counter-based random stream of dropout; the same integer arithmetic as
// Sources/ViTCore/CounterRandom.swift, so both backends draw the same numbers.
inline uint counter_hash(uint x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

inline uint counter_key(uint seed, uint offset) {
    return counter_hash(seed ^ counter_hash(offset + 0x9e3779b9U));
}

inline float counter_uniform(uint key, uint index) {
    return (float)(counter_hash(key ^ counter_hash(index)) >> 8) * (1.0f / 16777216.0f);
}
