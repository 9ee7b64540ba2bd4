"""Reading an actors CSV: every bad input is one InputError naming file, line, column and value."""

from __future__ import annotations

import pytest

from sim.errors import InputError
from sim.eum import load_actors_csv

HEAD = "Actor,Capability,Position,Salience\n"
BAD_FILES = [  # (id, file text, [(path, words of the rule, value if any)])
    ("missing column", "Actor,Capability,Position\nA,1,4\nB,2,7\n", [("Salience", "missing column")]),
    ("two missing", "Actor,Position\nA,4\nB,7\n", [("Capability", "missing"), ("Salience", "missing")]),
    ("duplicated column", "Actor,Capability,Position,position,Salience\nA,1,4,5,0.5\nB,2,7,8,1\n",
     [("line 1", "column names must be unique", "Position")]),
    ("not a number", HEAD + "A,1,4,0.5\nB,two,7,1\n", [("line 3.Capability", "finite number", "two")]),
    ("empty cell", HEAD + "A,1,,0.5\nB,2,7,1\n", [("line 2.Position", "finite number", "")]),
    ("nan", HEAD + "A,1,nan,0.5\nB,2,7,1\n", [("line 2.Position", "finite", "nan")]),
    ("infinite", HEAD + "A,1,4,0.5\nB,-inf,7,1\n", [("line 3.Capability", "finite", "-inf")]),
    ("overflows to inf", HEAD + "A,1,1e400,0.5\nB,2,7,1\n", [("line 2.Position", "finite", "1e400")]),
    ("position too large", HEAD + "A,1,1e308,0.5\nB,2,7,1\n",
     [("line 2.Position", "between -1e+100 and 1e+100", 1e308)]),
    ("position too negative", HEAD + "A,1,-1e101,0.5\nB,2,7,1\n", [("line 2.Position", "between", -1e101)]),
    ("capability too large", HEAD + "A,1e200,4,0.5\nB,2,7,1\n", [("line 2.Capability", "<= 1e+100", 1e200)]),
    ("salience above 1", HEAD + "A,1,4,1.5\nB,2,7,1\n", [("line 2.Salience", "between 0 and 1", 1.5)]),
    ("salience below 0", HEAD + "A,1,4,-0.1\nB,2,7,1\n", [("line 2.Salience", "between 0 and 1", -0.1)]),
    ("negative capability", HEAD + "A,-1,4,0.5\nB,2,7,1\n", [("line 2.Capability", ">= 0", -1.0)]),
    ("no weight", HEAD + "A,0,4,0.5\nB,2,7,0\n", [("Capability, Salience", "no weighted median", 0.0)]),
    ("extra field", HEAD + "A,1,4,0.5\nB,2,7,1,9\n", [("line 3", "must have 4 fields", 5)]),
    ("missing field", HEAD + "A,1,4\nB,2,7,1\n", [("line 2", "must have 4 fields", 3)]),
    ("empty name", HEAD + " ,1,4,0.5\nB,2,7,1\n", [("line 2.Actor", "must not be empty")]),
    ("one actor", HEAD + "A,1,4,0.5\n", [("", "at least two", 1)]),
    ("no actors", HEAD, [("", "at least two", 0)]),
    ("empty file", "", [("", "empty")]),
    ("blank lines only", "\n  \n,,\n", [("", "empty")]),
    ("repeated actor", HEAD + "A,1,4,0.5\nB,2,7,1\nA,3,5,0.2\n",
     [("line 4.Actor", "must be unique: line 2 has the same name", "A")]),
    ("semicolons", "Actor;Capability;Position;Salience\nA;1;4;0,5\nB;2;7;1\n",
     [("line 1", "fields are separated by ';': an actors CSV separates them by commas",
       "Actor;Capability;Position;Salience")]),
    ("tabs", "Actor\tCapability\tPosition\tSalience\nA\t1\t4\t0.5\nB\t2\t7\t1\n",
     [("line 1", "fields are separated by tabs", "Actor\tCapability\tPosition\tSalience")]),
    ("not an actors file", '{"rounds": [1, 2]}\n',
     [("line 1", "has none of the columns Actor, Capability, Position, Salience", '{"rounds": [1, 2]}')]),
    ("saliences in percent", HEAD + "A,1,4,50\nB,2,7,100\nC,1,5,0\n",
     [("line 2.Salience", "between 0 and 1 (a 0-100 scale? divide it by 100)", 50.0),
      ("line 3.Salience", "between 0 and 1 (a 0-100 scale? divide it by 100)", 100.0)]),
    ("one salience too large", HEAD + "A,1,4,0.5\nB,2,7,1\nC,1,5,5\n",
     [("line 4.Salience", "must be between 0 and 1", 5.0)]),
    ("several at once", HEAD + "A,-1,4,2\nB,x,7,1\nC,1,2\n",
     [("line 2.Capability", ">= 0", -1.0), ("line 2.Salience", "between", 2.0),
      ("line 3.Capability", "number", "x"), ("line 4", "fields", 3)]),
]


@pytest.mark.parametrize(("id_", "text", "expected"), [pytest.param(i, t, e, id=i) for i, t, e in BAD_FILES])
def test_bad_csv_is_an_input_error_naming_each_problem(tmp_path, id_, text, expected):
    """Each bad file raises one InputError with one problem per fault, naming file, line, column and value."""
    path = tmp_path / "actors.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_actors_csv(path)
    problems = err.value.problems
    assert len(problems) == len(expected), [str(p) for p in problems]
    for problem, (where, words, *value) in zip(problems, expected):
        assert problem.source == str(path)
        assert problem.path == where
        assert words in problem.message
        if value:
            assert problem.has_value and problem.value == value[0]
        if id_ == "one salience too large":
            assert "0-100" not in problem.message  # one stray value is not a percentage scale
        assert str(path) in str(err.value)


def test_unreadable_csv_is_an_input_error(tmp_path):
    """A file that does not exist, or is not text, is an InputError for that file."""
    for path in (tmp_path / "absent.csv", tmp_path / "binary.csv"):
        if path.name == "binary.csv":
            path.write_bytes(b"\xff\xfe\x00\x81\x00")
        with pytest.raises(InputError) as err:
            load_actors_csv(path)
        assert err.value.problems[0].source == str(path)
        assert "cannot read file" in err.value.problems[0].message or "cannot be read" in err.value.problems[0].message


def test_an_actors_file_that_is_not_a_regular_file_or_too_large_is_refused_unread(tmp_path, monkeypatch):
    """The library's reader, not only `sim eum`: a FIFO would block forever, and a file above
    the 8 MiB every sim input is held to is refused after reading one byte more than that."""
    import os

    import sim.yamlfile

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="named pipe"):
        load_actors_csv(fifo)
    big = tmp_path / "big.csv"
    big.write_text("actor,capability,position,salience\n" + "a,1,0,0.5\n" * 20)
    monkeypatch.setattr(sim.yamlfile, "MAX_BYTES", 64)
    monkeypatch.setattr(sim.yamlfile.read_file_bytes, "__defaults__", (None, 64))
    with pytest.raises(InputError, match="is larger than"):
        load_actors_csv(big)


def test_a_file_in_another_encoding_names_the_line_of_its_first_bad_byte(tmp_path):
    """A Latin-1 file (Excel's plain "CSV" on some systems) is refused with the line and byte,
    and how to save it; nothing is guessed."""
    path = tmp_path / "actors.csv"
    path.write_bytes((HEAD + "A,1,4,0.5\nZ\u00fcrich,2,7,1\n").encode("latin-1"))
    with pytest.raises(InputError) as err:
        load_actors_csv(path)
    (problem,) = err.value.problems
    assert problem.path == "line 3" and "byte 0xfc is not UTF-8 text" in problem.message
    assert "save the file as CSV UTF-8" in problem.message
    # the same after a byte-order mark (the decoder counts from after it)
    path.write_bytes(b"\xef\xbb\xbf" + (HEAD + "A,1,4,0.5\nZ\u00fcrich,2,7,1\n").encode("latin-1"))
    with pytest.raises(InputError) as err:
        load_actors_csv(path)
    (problem,) = err.value.problems
    assert problem.path == "line 3" and "byte 0xfc is not UTF-8 text" in problem.message


def test_bom_and_crlf_as_excel_writes_them_are_read(tmp_path):
    """A "CSV UTF-8" file from Excel (a byte-order mark, CRLF line ends, no final newline) reads
    like the plain file, quoted names with commas included."""
    path = tmp_path / "actors.csv"
    text = HEAD + '"Korea, South",1,4,0.5\nB,2,7,1'
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    actors = load_actors_csv(path)
    assert actors.names == ("Korea, South", "B")
    assert actors.salience.tolist() == [0.5, 1.0] and actors.position.tolist() == [4.0, 7.0]


def test_csv_header_case_and_order_are_free(tmp_path):
    """Columns may come in any order and case, with blank lines and extra columns ignored."""
    path = tmp_path / "actors.csv"
    path.write_text(" salience ,POSITION,note,actor,Capability\n0.5,4,x,A,1\n\n1,7,y,B,2\n", encoding="utf-8")
    actors = load_actors_csv(path)
    assert actors.names == ("A", "B")
    assert actors.salience.tolist() == [0.5, 1.0] and actors.position.tolist() == [4.0, 7.0]
    assert actors.capability.tolist() == [1.0, 2.0]


def test_bounds_themselves_are_accepted(tmp_path):
    """Capability 1e100, positions +-1e100, salience 0 and 1 are within the rules."""
    path = tmp_path / "actors.csv"
    path.write_text(HEAD + "A,1e100,-1e100,0\nB,0,1e100,1\nC,1,0,0.5\n", encoding="utf-8")
    assert load_actors_csv(path).position.tolist() == [-1e100, 1e100, 0.0]
