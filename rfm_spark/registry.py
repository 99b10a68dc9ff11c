"""The graded metrics, in code order: one entry each instead of parallel lookup tables."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class GradedMetric:
    name: str                # as in the config: grading.<name>
    letter: str              # its digit's letter in a code: R F M A
    value_column: str        # the rfm_customers column it is graded on
    grade_column: str
    lower_is_better: bool

    def value_column_for(self, frequency: str) -> str:
        """`frequency: rate` grades the rate, not the order count."""
        return "frequency_rate" if self.name == "frequency" and frequency == "rate" \
            else self.value_column


METRICS = {metric.name: metric for metric in (
    GradedMetric("recency", "R", "recency_days", "r_grade", lower_is_better=True),
    GradedMetric("frequency", "F", "frequency", "f_grade", lower_is_better=False),
    GradedMetric("monetary", "M", "monetary", "m_grade", lower_is_better=False),
    GradedMetric("age", "A", "tenure_days", "a_grade", lower_is_better=False),
)}
ALWAYS_GRADED = ("recency", "frequency", "monetary")  # age only when configured
