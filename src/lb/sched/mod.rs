//! Schedulers: one file per ipvsadm name behind one small trait (under construction).
