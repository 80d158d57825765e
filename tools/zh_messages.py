"""Simplified Chinese for every interface message (msgid → 译文). Keep sorted by area."""
ZH = {
    # voter pages
    "Assessment vote": "民主测评",
    "Voting code": "测评码",
    "Please enter your voting code": "请输入测评码",
    "Please choose one": "请选择一项",
    "Please give a number from {low:g} to {high:g}": "请填写 {low:g} 到 {high:g} 之间的数",
    "A voting code has 10 letters and digits, like 7KQ3M-X9TRD":
        "测评码由 10 位字母和数字组成，例如 7KQ3M-X9TRD",
    "This code does not exist. Please check it against your slip.": "测评码不存在，请对照测评票仔细核对。",
    "Enter your voting code": "输入测评码",
    "The code is printed under the QR code on your slip.": "测评码印在测评票二维码的下方。",
    "Continue": "下一步",
    "Your vote is anonymous: nobody, not even the organisers, can see how you voted.":
        "本次测评不记名：任何人（包括组织者）都无法查到您的选择。",
    "Some answers are missing. Please see the items marked in red; your other answers are kept.":
        "还有题目没有作答，请看标红的题目；您已作答的内容都已保留。",
    "Submit my vote": "提交测评",
    "Your vote was already recorded": "您的测评已经记录",
    "We received your vote the first time you sent it. It is counted once; nothing more is needed.":
        "您第一次提交时我们已收到，只计一次，无需再提交。",
    "Thank you. Your vote has been counted.": "提交成功，您的测评已计入。",
    "Your vote is stored and will be counted. It is anonymous: it cannot be traced back to your code or to you.":
        "您的测评已保存并将计入结果。测评不记名，无法追溯到测评码或您本人。",
    "You can close this page now.": "现在可以关闭本页面。",
    "This voting code does not exist": "测评码不存在",
    "Please check the code against your slip, or scan the QR code again.": "请对照测评票核对测评码，或重新扫描二维码。",
    "Type the code by hand": "手动输入测评码",
    "This voting code has already been used": "该测评码已经使用过",
    "Each code can vote once. If you did not vote with it, please tell the staff who gave you the slip.":
        "每个测评码只能使用一次。如果您没有用它投过票，请告知发放测评票的工作人员。",
    "This voting code has been withdrawn": "该测评码已作废",
    "Please ask the staff for a new slip.": "请向工作人员领取新的测评票。",
    "Voting has not started yet": "测评尚未开始",
    "Please keep your slip and scan it again when voting opens.": "请保管好测评票，测评开始后再扫码。",
    "Voting has ended": "测评已结束",
    "This assessment is closed; votes are no longer accepted.": "本次测评已结束，不再接受投票。",
    "This page has expired": "页面已过期",
    "Please open the ballot again and submit it. Your code has not been used.":
        "请重新打开测评页面后提交。您的测评码尚未使用。",
    "The submission is too large": "提交的内容过大",
    "Nothing was stored. Please submit the ballot page as it is.": "没有保存任何内容，请直接提交测评页面。",
    "Too many attempts": "尝试次数过多",
    "Please wait a few minutes and try again.": "请稍等几分钟后再试。",
    "Page not found": "页面不存在",
    "Something went wrong on our side": "服务器出现问题",
    "Your vote was not stored. Please try again in a moment; your code is still valid.":
        "您的测评没有保存，请稍后重试，测评码仍然有效。",
    "The submission could not be accepted": "提交的内容无法接受",
    "Nothing was stored. Please open the ballot again from your slip.": "没有保存任何内容，请重新扫描测评票打开测评页面。",
}
