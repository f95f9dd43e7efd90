"""Actions: one module per kind of page change, registered here in one ordered list."""

from etalage.rules.actions.banner import Banner
from etalage.rules.actions.base import Action, CompileContext, PageContext
from etalage.rules.actions.hide import Hide
from etalage.rules.actions.insert import Insert
from etalage.rules.actions.popin import Popin
from etalage.rules.actions.recommend import Recommend
from etalage.rules.actions.set import Set
from etalage.rules.actions.sort import Sort

__all__ = ["ACTIONS", "Action", "CompileContext", "PageContext"]

ACTIONS: dict[str, type[Action]] = {action.kind: action for action in (Banner, Sort, Popin, Insert, Hide, Set, Recommend)}
