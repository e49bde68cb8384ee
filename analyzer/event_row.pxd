# One teardown event as ``model.Events`` packs it (``model.EVENT_ROW``): the
# walk writes these rows (walk.pyx) and the JSON is made from them
# (output/json_text.pyx). Both check at import that the layouts agree.
cdef struct EventRow:
    long long frame
    double time
    long long seq, ack, length
    int flags  # the 12 flag bits
    unsigned char sender  # position in vocabulary.Side
    unsigned char kind  # position in vocabulary.EventKind
    unsigned char client_state, server_state  # positions in vocabulary.State
