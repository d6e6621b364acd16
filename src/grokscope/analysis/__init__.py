"""What a finished run says: its summary, the comparison of arms over seeds, censored and rank statistics, phases
from stored series, and the validation studies of the monitor and the early warning."""
