/* Ends one expansion of messages.def: include right after it. */
#undef REC
#undef MSG
#undef F
#undef L
#undef END
#undef REQ
#undef ANS
#undef ONEWAY
