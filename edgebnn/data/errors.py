"""The one error type the data layer raises for bad user input.

Every problem with a user's files is reported as a :class:`DataError` whose message is a single
line, ``<where>: <what was found>, expected <what>``, so that a command-line tool can print it
as-is and the user knows which file to look at without a traceback.
"""

from __future__ import annotations

import os

from edgebnn.errors import EdgebnnError

__all__ = ["DataError"]


class DataError(EdgebnnError, ValueError):
    """Bad or missing data: the message is one line naming the file (or spec) and the problem.

    ``where`` is the file, directory or spec at fault; ``problem`` says what was found and what
    was expected. Newlines in either are folded into spaces so the message stays one line.
    """

    def __init__(self, where: str | os.PathLike[str], problem: str) -> None:
        self.where = " ".join(os.fspath(where).split())
        self.problem = " ".join(str(problem).split())
        super().__init__(self.problem, file=self.where)

    def __reduce__(self):  # keep the exception picklable despite the two-argument __init__
        return (type(self), (self.where, self.problem))
