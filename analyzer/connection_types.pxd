# The result types every walked connection is made into (connection_types.pyx).

cdef class TimeWait:
    cdef public object side, start, end, ended_by, start_estimated

cdef class SideFacts:
    cdef public object ttls, last_payload_frame, last_payload_time, keepalive_frames
    cdef public object half_close_frames, data_after_fin_frames, fin_frame, fin_time
    cdef public object fin_ack_frame, fin_ack_time

cdef class Connection:
    cdef public object id, client, server, roles_inferred, incarnation, first_frame
    cdef public object last_frame, first_time, last_time, isn_client, isn_server, close
    cdef public object active_closer, rst_sender, half_close, fin_retransmissions
    cdef public object end_states, time_wait, events, packets, payload_bytes, fin_seq
    cdef public object next_seq, last_tsval, first_tsval, fin_resends, resets
    cdef public object duplicate_frames, missed_frames, facts, zeek
