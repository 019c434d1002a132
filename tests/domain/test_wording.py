"""Who the event log names for what happens: automatic steps are the system's, not the person whose action made
them due (issue 11)."""


def test_automatic_call_after_finish_is_logged_as_automatic(make_picket):
    p = make_picket(auto_call=True, spots=("A",))
    p.start()
    first, _ = p.join("Tulip")
    p.join("Rose")
    p.act(first, "confirm_arrival")
    p.act(first, "finish")  # the next call happens inside the participant's own transaction
    calls = p.log("call")
    assert [r.actor for r in calls] == ["system", "system"]
    assert [r.actor for r in p.log("finish")] == ["participant"]
    assert [r.actor for r in p.log("start")] == ["system"]


def test_people_leaving_at_the_end_are_logged_as_automatic(picket):
    picket.join("Tulip")
    picket.c("call_next")
    picket.join("Rose")
    picket.c("end")
    assert [r.actor for r in picket.log("event_end")] == ["system", "system"]
    assert picket.log("end")[0].actor != "system"
