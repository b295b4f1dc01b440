"""The read path's near cache: decoded values and generations held in each process."""
