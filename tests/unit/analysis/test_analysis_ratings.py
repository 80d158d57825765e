"""Loading and checking the tidy table: every error names its rows, in Chinese, as a spreadsheet numbers them."""
import numpy as np
import pandas as pd
import pytest

import analysis_test_factories as factories
from analysis.pipeline import analyze
from analysis.ratings import RatingsError, load_ratings, read_ratings
from analysis.settings import AnalysisSpec, SpecError


@pytest.fixture
def camp():
    return factories.campaign(seed=1, n_villages=3, masses_per_village=4, n_cadres=4)


def test_valid_campaign_loads_with_categoricals(camp):
    out = load_ratings(camp.ratings, camp.spec)
    assert isinstance(out["subject"].dtype, pd.CategoricalDtype)
    assert out["value"].dtype == float
    assert len(out) == len(camp.ratings)


ROW_9 = "；见第 9 行（表头为第 1 行）"  # index label 7: the header is row 1, label 0 is row 2


@pytest.mark.parametrize("column, bad, message", [
    ("item", "nonsense", "评分表中有测评表定义里没有的题目（共 1 行），如测评表“villager”中的“nonsense”"),
    ("rater_group", "aliens", "评分表中有定义里没有的评价主体：“aliens”（共 1 行），定义中的评价主体为"
                              "“masses”、“member”、“superior”、“peer”、“subordinate”"),
    ("sheet", "ghost", "评分表中有定义里没有的测评表：“ghost”（共 1 行），定义中的测评表为“villager”、“cadre”"),
    ("mode", "carrier_pigeon", "评分表中有无法识别的投票方式（“mode”列）：“carrier_pigeon”（共 1 行），"
                               "应为“open”、“paper”、“rehearsal”、“token”之一"),
    ("value", 42.0, "测评表“villager”的题目“openness”有超出量表的值（共 1 行），如 42，应为 0、60、100 之一"),
    ("value", "很好", "“value”列有不是数字的值（共 1 行），如“很好”"),
])
def test_errors_name_the_rows(camp, column, bad, message):
    t = camp.ratings.copy()
    t[column] = t[column].astype(object)
    t.loc[7, column] = bad
    with pytest.raises(RatingsError) as err:
        load_ratings(t, camp.spec)
    assert err.value.rows == [7]
    assert str(err.value) == message + ROW_9


def test_a_table_with_its_own_index_has_its_labels_shown(camp):
    t = camp.ratings.set_axis(camp.ratings.index + 100)
    t.loc[107, "value"] = 42.0
    with pytest.raises(RatingsError) as err:
        load_ratings(t, camp.spec)
    assert err.value.rows == [107]
    assert str(err.value).endswith("，如 42，应为 0、60、100 之一；行索引：107")


def test_unknown_subject_against_roster(camp):
    spec = factories.spec(subjects=frozenset(camp.ratings["subject"]) - {"village_00"})
    with pytest.raises(RatingsError) as err:
        load_ratings(camp.ratings, spec)
    n = int((camp.ratings["subject"] == "village_00").sum())
    assert str(err.value) == (f"评分表中有名单里没有的被评对象：“village_00”（共 {n} 行），请核对“subject”列的编码；"
                              "见第 2、3、4、5、6、7、8、9、10、11 行等（表头为第 1 行）")


def test_duplicated_answers_are_named(camp):
    t = pd.concat([camp.ratings, camp.ratings.iloc[[3]]], ignore_index=True)
    with pytest.raises(RatingsError) as err:
        load_ratings(t, camp.spec)
    assert err.value.rows == [3, len(t) - 1]
    assert str(err.value) == ("有重复的答案（共 2 行）：同一张选票（“ballot_id”）对同一被评对象（“subject”）的同一题目"
                              f"（“item”）只能有一行；见第 5、{len(t) + 1} 行（表头为第 1 行）")


def test_ballot_on_two_groups_is_an_error(camp):
    t = camp.ratings.copy()
    t.loc[0, "rater_group"] = "member" if t.loc[0, "rater_group"] != "member" else "masses"
    with pytest.raises(RatingsError, match="^有的选票的评价主体前后不一（共 5 行），如选票“b00000”"
                                           "（同一“ballot_id”的各行“rater_group”应相同）；见第 3、4、5、6、7 行"):
        load_ratings(t, camp.spec)


def test_ballot_on_two_sheets_is_an_error(camp):
    t = camp.ratings.copy()
    t.loc[1, ["sheet", "item", "value"]] = ["cadre", "integrity", 5.0]  # ballot b00000 is on the villager sheet
    with pytest.raises(RatingsError) as err:
        load_ratings(t, camp.spec)
    assert err.value.rows == [1]
    assert str(err.value) == ("有的选票出现在不止一张测评表上（共 1 行），如选票“b00000”（同一“ballot_id”的各行应属于同一张"
                              "测评表）；见第 3 行（表头为第 1 行）")


def test_missing_column_and_nan_values(camp):
    with pytest.raises(RatingsError) as err:
        load_ratings(camp.ratings.drop(columns="value"), camp.spec)
    assert str(err.value) == "评分表缺少列：value（请使用 pingyi export 导出的表）"
    assert err.value.rows == []
    t = camp.ratings.copy()
    t.loc[5, "value"] = np.nan  # unanswered is allowed
    assert np.isnan(load_ratings(t, camp.spec)["value"].iloc[5])


def test_csv_and_parquet_round_trip(camp, tmp_path):
    camp.ratings.to_csv(tmp_path / "r.csv", index=False)
    camp.ratings.to_parquet(tmp_path / "r.parquet")
    a = load_ratings(tmp_path / "r.csv", camp.spec)
    b = load_ratings(tmp_path / "r.parquet", camp.spec)
    np.testing.assert_array_equal(a["value"], b["value"])
    assert (a["fingerprint"].astype(str) == b["fingerprint"].astype(str)).all()


def test_dimension_differing_from_definition_is_named(camp):
    t = camp.ratings.copy()
    t["dimension"] = t["item"].map({**{k: "overall" if k == "overall" else
                                       ("livelihood" if k in ("services", "roads") else "governance")
                                       for k in factories.VILLAGER_ITEMS},
                                    **{k: "virtue" if k in ("integrity", "diligence") else "work"
                                       for k in factories.CADRE_ITEMS}})
    assert len(load_ratings(t, camp.spec)) == len(t)
    t.loc[11, "dimension"] = "work" if t.loc[11, "sheet"] == "villager" else "virtue"
    with pytest.raises(RatingsError) as err:
        load_ratings(t, camp.spec)
    assert err.value.rows == [11]
    assert (t.loc[11, "sheet"], t.loc[11, "item"]) == ("villager", "conduct")
    assert str(err.value) == ("“dimension”列与定义不符（共 1 行），如测评表“villager”的题目“conduct”属于维度“governance”，"
                              "表中写的是“work”；见第 13 行（表头为第 1 行）")


def test_a_csv_missing_a_column_is_named_by_the_reader(camp, tmp_path):
    """The file a person cut columns from: read through analysis.ratings' own CSV reader."""
    camp.ratings.drop(columns=["item", "value"]).to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(RatingsError) as err:
        load_ratings(tmp_path / "r.csv", camp.spec)
    assert str(err.value) == "评分表缺少列：item、value（请使用 pingyi export 导出的表）"


def test_a_file_that_is_not_a_ratings_table_is_named(camp, tmp_path):
    (tmp_path / "r.txt").write_text("ballot_id\n", encoding="utf-8")
    with pytest.raises(RatingsError) as err:
        load_ratings(tmp_path / "r.txt", camp.spec)
    assert str(err.value) == "r.txt：无法读取这种评分表（扩展名为“.txt”），请使用 .csv、.xlsx 或 .parquet 文件"


def test_csv_excel_and_parquet_read_as_one_table(camp, tmp_path):
    """One reader for the CLI and a notebook: the same table, whichever form it was saved in."""
    camp.ratings.to_csv(tmp_path / "r.csv", index=False)
    camp.ratings.to_excel(tmp_path / "r.xlsx", index=False)
    camp.ratings.to_parquet(tmp_path / "r.parquet", index=False)
    loaded = {name: load_ratings(tmp_path / name, camp.spec) for name in ("r.csv", "r.xlsx", "r.parquet")}
    assert len(loaded["r.csv"]) == len(camp.ratings)
    for name in ("r.xlsx", "r.parquet"):
        pd.testing.assert_frame_equal(loaded[name], loaded["r.csv"], check_dtype=False, check_categorical=False)


def test_codes_stay_text_and_an_empty_value_is_a_missing_answer_in_csv_and_excel(tmp_path):
    table = pd.DataFrame({"ballot_id": ["0012", "0012"], "subject": ["007", "008"], "value": [60.0, None]})
    table.to_csv(tmp_path / "r.csv", index=False)
    table.to_excel(tmp_path / "r.xlsx", index=False)
    for name in ("r.csv", "r.xlsx"):
        read = read_ratings(tmp_path / name)
        assert read["subject"].tolist() == ["007", "008"] and read["ballot_id"].tolist() == ["0012", "0012"]
        assert read["value"].iloc[0] == 60.0 and pd.isna(read["value"].iloc[1]), name


def test_a_csv_that_excel_saved_in_gb18030_reads(tmp_path):
    table = pd.DataFrame({"sheet": ["村民测评票"], "rater_group": ["masses"], "value": [100.0]})
    table.to_csv(tmp_path / "r.csv", index=False, encoding="gb18030")
    pd.testing.assert_frame_equal(read_ratings(tmp_path / "r.csv"), table)


@pytest.mark.parametrize("name, content, expected", [
    ("r.csv", b"", "r.csv：文件是空的（应为 pingyi export 导出的评分表）"),
    ("r.csv", b"ballot_id,value\n\xff\xfe,1\n", "r.csv：不是 UTF-8 或 GB18030 编码的文本（应为 pingyi export 导出的评分表）"),
    ("r.csv", b'ballot_id,value\n"a,1\n', "r.csv：CSV 格式有误"),
    ("r.xlsx", b"PK\x03\x04 not really a workbook", "r.xlsx：不是有效的 Excel 文件（.xlsx），或文件已损坏"),
    ("r.pq", b"not parquet", "r.pq：不是有效的 Parquet 文件，或文件已损坏"),
])
def test_a_file_that_cannot_be_read_is_named_with_why(tmp_path, name, content, expected):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(RatingsError) as err:
        read_ratings(tmp_path / name)
    assert str(err.value).startswith(expected)


def test_a_missing_file_is_named_with_the_systems_reason_in_chinese(tmp_path):
    with pytest.raises(RatingsError, match="^r.csv：无法读取（文件或文件夹不存在）$"):
        read_ratings(tmp_path / "r.csv")


def test_a_non_numeric_value_in_a_csv_names_its_line(camp, tmp_path):
    t = camp.ratings.copy()
    t["value"] = t["value"].astype(object)
    t.loc[3, "value"] = "满意"
    t.to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(RatingsError) as err:
        load_ratings(tmp_path / "r.csv", camp.spec)
    assert str(err.value) == "“value”列有不是数字的值（共 1 行），如“满意”；见第 5 行（表头为第 1 行）"
    assert (tmp_path / "r.csv").read_text(encoding="utf-8").splitlines()[4].split(",")[5] == "满意"


def test_an_answered_satisfaction_item_without_its_choice_is_named(camp):
    t = camp.ratings.copy()
    row = t.index[(t["sheet"] == "villager") & (t["item"] == "overall") & t["value"].notna()][0]
    t.loc[row, "choice"] = ""
    with pytest.raises(RatingsError) as err:
        analyze(t, camp.spec)
    assert err.value.rows == [row]
    assert str(err.value) == ("满意度题目（如测评表“villager”的“overall”）已作答，但“choice”列是空的（共 1 行）："
                              f"计算满意率要用所选的选项，请使用 pingyi export 导出的表；见第 {row + 2} 行（表头为第 1 行）")


def test_no_questionnaire_to_analyse_is_said_in_chinese():
    """What a header-only ratings file, or one naming no questionnaire, comes to through ``pingyi analyze``."""
    with pytest.raises(SpecError) as err:
        AnalysisSpec(sheets=(), group_weights={"masses": 1.0})
    assert str(err.value) == "没有可以分析的测评表：评分表中没有答案，或者没有一行属于已定义的测评表"
